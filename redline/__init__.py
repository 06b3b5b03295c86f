"""What ties the layers together and what people touch: configuration, the CLI, the web app."""

__version__ = "0.1.0"
