"""Programs the end-to-end tests run: the e2e app and helper scripts."""
