"""Online garbage collection of blobs and abandoned uploads, and storage accounting."""
