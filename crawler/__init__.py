"""Everything that touches the web: spiders, download safety, extraction and the differ."""
