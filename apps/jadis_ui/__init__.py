"""Helpers shared by the pages of the jadis Streamlit app."""
