"""The sandbox's routes, one module per resource: files, uploads, jobs, and the admin API."""
