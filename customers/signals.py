"""What the customers app tells the apps above it.

Sent by customers' services (and by delivery where it marks addresses) inside their
transaction; receivers, connected in the receiving app's AppConfig.ready, only dispatch.
"""

from django.dispatch import Signal

# Contact data of many customers changed at once: an import committed, a merge or an
# unmerge, addresses marked bounced. kwargs: reason: str ("import", "merge", "unmerge",
# "bounce").
customers_changed = Signal()
