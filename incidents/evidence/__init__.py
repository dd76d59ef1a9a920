"""The evidence pack: one PDF/A per incident that shows what happened, verifiably.

Other apps contribute sections through `registry` (filled from their AppConfig.ready),
so that incidents never imports them.
"""
