"""The Compare tab: two runs side by side on the same data."""
