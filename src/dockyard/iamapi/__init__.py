"""Front door for the IAM and STS query APIs (``POST /`` with ``Action=...&Version=...``)."""
