from .services import evidence_pack_build


def evidence_pack_build_task(pack_id: int) -> None:
    evidence_pack_build(pack_id=pack_id)
