"""``dockyard serve`` for the benchmark, under a process name of its own.

Other sessions on a shared machine clean up their test servers with commands that match
``dockyard serve`` on the command line; starting the server through this file keeps the benchmark's
server out of their way. It runs exactly the same code path as ``dockyard serve``.
"""

import sys

from dockyard.cli import main

if __name__ == "__main__":
    sys.argv = ["dockyard", "serve", *sys.argv[1:]]
    main()
