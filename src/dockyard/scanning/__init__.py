"""Image vulnerability scanning (issue 5): inventories (SBOMs) of image layers, OSV advisories,
matching, the scan jobs, and the ECR scanning API's service. See docs/scanning.md."""
