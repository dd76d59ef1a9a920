"""What the customers app tells the apps that depend on it.

Sent by customers' services (and by delivery where it marks addresses) inside their
transaction; receivers, connected in the receiving app's AppConfig.ready, only dispatch.
"""

from django.dispatch import Signal

# kwargs: merge_id: int, survivor_id: int, merged_id: int, actor: User | None.
# The merged-away customer stops being anyone's audience: whatever held them (a scope,
# an unsent notice) must hold the survivor instead.
customer_merged = Signal()

# kwargs: merge_id: int, survivor_id: int, merged_id: int, actor: User | None
customer_unmerged = Signal()

# Contact data of many customers changed at once: an import committed, a merge or an
# unmerge, addresses marked bounced. kwargs: reason: str ("import", "merge", "unmerge",
# "bounce").
customers_changed = Signal()
