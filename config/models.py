"""No models: present so that post_migrate is sent for this app (roles are synced then)."""
