"""How ready the company is before a breach: one page for the CMO, the CISO and the DPO.

Composition layer: it reads every app (customers, incidents, notifications) and no app
imports it; customers tell it of bulk changes by signal. Each dimension is one selector
in `selectors.py`; the figures over the whole customer table are recounted by the task
cluster into `CustomerFigures` and read from there (`services.customer_figures_refresh`).
The on-call rota (`OnCallShift`) lives here too: only this page asks who is on call.
"""
