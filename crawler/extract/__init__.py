"""HTML to Page: the article a reader sees and its live-feed items, stable under page noise.

Pure functions only (no I/O, no clock). See docs/extraction.md.
"""

from redline.crawler.extract.core import (
    EXTRACTOR,
    EXTRACTOR_VERSION,
    Extraction,
    extract,
    extract_page,
    region_unchanged,
)
from redline.crawler.extract.memory import ArticleMemory
from redline.crawler.extract.profiles import (
    ProfileError,
    SiteProfile,
    builtin_profiles,
    load_profiles,
    profile_for,
)
from redline.crawler.extract.site import SiteMemory
from redline.crawler.extract.text import normalise_text

__all__ = [
    "EXTRACTOR",
    "EXTRACTOR_VERSION",
    "ArticleMemory",
    "Extraction",
    "ProfileError",
    "SiteMemory",
    "SiteProfile",
    "builtin_profiles",
    "extract",
    "extract_page",
    "load_profiles",
    "normalise_text",
    "profile_for",
    "region_unchanged",
]
