"""What both the vehicles spider and its PDF pipeline use: the checks that bytes are a
vehicle's complete report (crawlers/vehicles/pdfs.py)."""
