"""Reading text labels on maps (rapidocr) and correcting them against known names."""
