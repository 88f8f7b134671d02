"""The one place that draws: tables, live views, progress."""
