"""The Gradio annotation UI: presentation only."""
