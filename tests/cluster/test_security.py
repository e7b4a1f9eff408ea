"""Nobody else drives the cluster: mutual TLS through Dask's Security, and plain tcp:// only on the loopback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.commands.batch import BatchError
from grader.commands.cli import app
from grader.cluster.address import ClusterAddressError, ClusterOptions, TlsFiles, check_address, is_loopback
from tests.cluster.conftest import grade
from tests.cluster.test_faults import TOY, toy_hand_ins


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://localhost:8786", "tcp://[::1]:8786",
                                     "127.0.0.2:8786"])
def test_plain_tcp_on_the_loopback_is_accepted(address):
    assert check_address(ClusterOptions(address)) == "tcp"


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "tcp://192.0.2.1:8786", "tcp://0.0.0.0:8786",
                                     "tcp://grading-head.invalid:8786"])
def test_plain_tcp_elsewhere_is_refused_unless_insecure(address):
    with pytest.raises(ClusterAddressError, match="refusing plain tcp:// to a host other than this machine"):
        check_address(ClusterOptions(address))
    if "invalid" not in address:
        assert check_address(ClusterOptions(address, insecure=True)) == "tcp"


@pytest.mark.parametrize(("address", "problem"), [("ucx://127.0.0.1:8786", "not ucx://"),
                                                  ("tcp://127.0.0.1", "no port"), ("tls://:8786", "no host"),
                                                  ("tcp://127.0.0.1:port", "not a number")])
def test_malformed_addresses_say_what_is_wrong(address, problem):
    with pytest.raises(ClusterAddressError, match=problem):
        check_address(ClusterOptions(address))


def test_tls_needs_the_clients_certificate_files(tmp_path):
    with pytest.raises(ClusterAddressError, match="needs this client's certificate"):
        check_address(ClusterOptions("tls://grading-head:8786"))
    missing = TlsFiles(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    with pytest.raises(ClusterAddressError, match="--tls-ca-file .*ca.pem: no such file"):
        check_address(ClusterOptions("tls://grading-head:8786", tls=missing))
    assert not is_loopback("0.0.0.0") and is_loopback("127.1.2.3")


@pytest.fixture(scope="module")
def tls_cluster():
    """A scheduler and one worker process that speak only mutual TLS, with throwaway certificates."""
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, protocol="tls", host="127.0.0.1",
                           security=security, dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    try:
        yield cluster, security
    finally:
        cluster.close(timeout=20)


def pem_files(security, folder: Path) -> list[str]:
    folder.mkdir()
    files = {"ca.pem": security.tls_ca_file, "cert.pem": security.tls_client_cert, "key.pem": security.tls_client_key}
    for name, text in files.items():
        (folder / name).write_text(text)
    return ["--tls-ca-file", str(folder / "ca.pem"), "--tls-cert", str(folder / "cert.pem"),
            "--tls-key", str(folder / "key.pem")]


def test_grading_over_mutual_tls_with_certificate_files(tls_cluster, tmp_path):
    cluster, security = tls_cluster
    assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
    hand_ins = tmp_path / "hand-ins"
    toy_hand_ins(hand_ins, 2, seconds=0)
    result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "toy", "--course", str(TOY), "--out",
                                      str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                                      *pem_files(security, tmp_path / "certs")], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "graded 2, skipped 0" in output and "1 worker(s)" in output
    assert "2/2 graded" in output and "1 worker connected" in output  # the progress line, with the workers
    import importlib.util

    assert "Dask dashboard: http://127.0.0.1:" in output
    if importlib.util.find_spec("bokeh") is None:  # the scheduler runs in this process
        assert "(without its pages: bokeh is not installed beside the scheduler" in output


def test_a_client_without_the_courses_certificate_is_turned_away(tls_cluster, tmp_path):
    from distributed.security import Security

    cluster, _ = tls_cluster
    hand_ins = tmp_path / "hand-ins"
    toy_hand_ins(hand_ins, 1, seconds=0)
    stranger = Security.temporary()  # a valid certificate, from another authority
    with pytest.raises(BatchError, match=f"cannot reach the Dask scheduler at {cluster.scheduler_address}"):
        grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=cluster.scheduler_address,
              cluster_options={"security": stranger, "connect_timeout": 3})
    plain = cluster.scheduler_address.replace("tls://", "tcp://")
    with pytest.raises(BatchError, match=f"cannot reach the Dask scheduler at {plain}"):
        grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=plain,
              cluster_options={"connect_timeout": 3})
