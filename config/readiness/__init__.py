"""How ready the company is before a breach: one page for the CMO, the CISO and the DPO.

Composition layer: it reads every app (customers, incidents, notifications) and no app
imports it. Each dimension is one selector in `selectors.py`; those that depend on a
feature not built yet (a company profile, an on-call rota, a call-centre pack) say
"not set up" / "not modelled" from one small function each, so wiring them later is a
one-function change.
"""
