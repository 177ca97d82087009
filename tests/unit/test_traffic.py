"""Loss analysis of probe records (the measurement every failover test and benchmark relies on)."""

from __future__ import annotations

from netha.lab.traffic import RECORD, analyse


def _write(path, records):
    path.write_bytes(b"".join(RECORD.pack(s, t) for s, t in records))


def test_one_run_of_losses_gives_its_black_hole_time(tmp_path):
    sent = [(i, i * 0.01) for i in range(100)]
    got = [(i, i * 0.01 + 0.001) for i in range(100) if not 40 <= i < 55]
    _write(tmp_path / "s", sent)
    _write(tmp_path / "r", got)
    loss = analyse(tmp_path / "s", tmp_path / "r")
    assert loss.lost == 15
    assert abs(loss.blackhole - 0.15) < 1e-9
    assert loss.lost_seqs[0] == 40


def test_no_loss(tmp_path):
    _write(tmp_path / "s", [(i, i * 0.01) for i in range(50)])
    _write(tmp_path / "r", [(i, i * 0.01) for i in range(50)])
    loss = analyse(tmp_path / "s", tmp_path / "r")
    assert loss.lost == 0 and loss.blackhole == 0.0


def test_loss_until_the_end_is_an_open_black_hole(tmp_path):
    _write(tmp_path / "s", [(i, i * 0.01) for i in range(100)])
    _write(tmp_path / "r", [(i, i * 0.01) for i in range(30)])
    loss = analyse(tmp_path / "s", tmp_path / "r")
    assert loss.recovered_at is None and loss.blackhole > 0.5


def test_a_probe_held_in_a_queue_and_delivered_late_counts_as_lost(tmp_path):
    _write(tmp_path / "s", [(i, i * 0.01) for i in range(100)])
    # Probes 40-59 were queued (e.g. while the host re-resolved the gateway) and all arrive at t=0.65 s.
    _write(tmp_path / "r", [(i, 0.65 if 40 <= i < 60 else i * 0.01 + 0.001) for i in range(100)])
    loss = analyse(tmp_path / "s", tmp_path / "r")
    assert loss.lost == 15  # 40-54 are more than 100 ms late; 55-59 arrive within 100 ms
    assert abs(loss.blackhole - 0.15) < 1e-9


def test_outages_lists_every_run_of_lost_probes(tmp_path):
    from netha.lab.traffic import RECORD, outages

    sent, recv = tmp_path / "s", tmp_path / "r"
    lost = set(range(10, 20)) | set(range(50, 55)) | {70}  # two outages, one single lost probe
    sent.write_bytes(b"".join(RECORD.pack(i, i * 0.01) for i in range(100)))
    recv.write_bytes(b"".join(RECORD.pack(i, i * 0.01 + 0.001) for i in range(100) if i not in lost))
    runs = outages(sent, recv)
    assert [round(s, 2) for s, _ in runs] == [0.10, 0.50]
    assert [round(d, 2) for _, d in runs] == [0.10, 0.05]
