"""What the customers app tells the apps that depend on it.

Sent by customer services inside their transaction; receivers (connected in the
receiving app's AppConfig.ready) only dispatch to their own services.
"""

from django.dispatch import Signal

# kwargs: merge_id: int, survivor_id: int, merged_id: int, actor: User | None.
# The merged-away customer stops being anyone's audience: whatever held them (a scope,
# an unsent notice) must hold the survivor instead.
customer_merged = Signal()

# kwargs: merge_id: int, survivor_id: int, merged_id: int, actor: User | None
customer_unmerged = Signal()
