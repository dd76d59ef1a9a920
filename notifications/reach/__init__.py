"""Reaching everyone: the people no channel reaches, returned letters, substitute notice,
the call-centre pack and the agents' lookup by reference."""
