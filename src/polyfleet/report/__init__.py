"""Reports of a plan: terminal tables, JSON, and a self-contained HTML page with charts."""
