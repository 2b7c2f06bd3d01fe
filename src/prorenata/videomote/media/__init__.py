"""The media server: its own asyncio program (aiohttp; aiortc for media), no Zope."""
