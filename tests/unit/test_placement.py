"""GPU placement: state and checker, each policy's semantics, FGD, replay and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controlplane.cli.main import main
from controlplane.experiments.placement_io import load_nodes, load_pods
from models.placement import GpuNode, Placement, Pod
from scheduler.placement import (
    ALL,
    ClusterState,
    check_placements,
    make_policy,
    replay,
    sample_arrivals,
)
from scheduler.placement.policies import BestFit, Fgd, TargetWorkload

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cluster"


def gpu_pod(name: str, milli: int, num: int = 1, cpu: int = 1000, spec: str = "") -> Pod:
    return Pod(name, cpu, 1024, num, milli, frozenset(s for s in spec.split("|") if s))


def small_cluster() -> list[GpuNode]:
    return [
        GpuNode("a", 16000, 65536, 2, "T4"),
        GpuNode("b", 32000, 131072, 4, "V100"),
        GpuNode("c", 8000, 16384, 1, "T4"),
        GpuNode("d", 64000, 262144, 8, "G2"),
    ]


def random_pods(n: int, seed: int) -> list[Pod]:
    rng = np.random.default_rng(seed)
    pods = []
    for i in range(n):
        kind = rng.integers(0, 4)
        cpu = int(rng.choice([500, 2000, 6000, 12000]))
        if kind == 0:
            pods.append(Pod(f"p{i}", cpu, 2048))
        elif kind == 1:
            pods.append(gpu_pod(f"p{i}", int(rng.integers(1, 10)) * 100, cpu=cpu))
        elif kind == 2:
            pods.append(gpu_pod(f"p{i}", 1000, int(rng.choice([1, 2, 4])), cpu=cpu))
        else:
            pods.append(gpu_pod(f"p{i}", 500, cpu=cpu, spec="V100|G2"))
    return pods


@pytest.mark.parametrize("name", ALL)
def test_no_policy_ever_violates_capacities(name: str) -> None:
    nodes = small_cluster()
    pods = random_pods(60, seed=1)
    state = ClusterState(nodes)
    arrivals = sample_arrivals(pods, state.capacity_milli, seed=3, target=1.3)
    result = replay(nodes, arrivals, make_policy(name, pods, state, seed=0))
    assert result.violations == []
    assert len(result.placements) == len(arrivals)
    assert result.failed > 0  # 130% load cannot all fit
    assert result.at_load[1.0].allocated <= 1.0
    for p in result.placements:
        if p.node is not None and p.pod.gpu_spec:
            model = next(n.gpu_model for n in nodes if n.name == p.node)
            assert model in p.pod.gpu_spec


def test_checker_catches_overcommit() -> None:
    nodes = [GpuNode("n", 4000, 4096, 1, "T4")]
    a, b = gpu_pod("a", 600), gpu_pod("b", 600)
    assert check_placements(nodes, [Placement(a, "n", (0,))]) == []
    problems = check_placements(nodes, [Placement(a, "n", (0,)), Placement(b, "n", (0,))])
    assert any("1200 milli" in p for p in problems)
    big = Pod("cpu", 5000, 10)
    assert any("CPU" in p for p in check_placements(nodes, [Placement(big, "n")]))
    assert check_placements(nodes, [Placement(gpu_pod("x", 1000, 2), "n", (0, 1))])


@pytest.mark.parametrize("name", ALL)
def test_gpu_sharing_and_whole_gpus(name: str) -> None:
    nodes = [GpuNode("n", 64000, 65536, 2, "T4")]
    state = ClusterState(nodes)
    policy = make_policy(name, [gpu_pod("w", 500)], state)
    for pod in (gpu_pod("s1", 600), gpu_pod("s2", 400)):
        d = policy.place(state, pod)
        assert d is not None
        state.allocate(d.node, pod, d.gpus)
    # two shares: one GPU full (or both partly used); a 2-GPU pod no longer fits
    assert policy.place(state, gpu_pod("two", 1000, 2)) is None
    state2 = ClusterState(nodes)
    state2.allocate(0, gpu_pod("s", 300), (0,))
    d = policy.place(state2, gpu_pod("whole", 1000))
    assert d is not None and d.gpus == (1,)
    state2.allocate(d.node, gpu_pod("whole", 1000), d.gpus)
    assert policy.place(state2, gpu_pod("big", 800)) is None
    d = policy.place(state2, gpu_pod("small", 700))
    assert d is not None and d.gpus == (0,)
    assert policy.place(state2, Pod("cpu", 1000, 1024)) is not None


@pytest.mark.parametrize("name", ALL)
def test_gpu_spec_is_honoured(name: str) -> None:
    nodes = [GpuNode("t4", 64000, 65536, 4, "T4"), GpuNode("v", 64000, 65536, 4, "V100")]
    state = ClusterState(nodes)
    policy = make_policy(name, [gpu_pod("w", 500)], state)
    d = policy.place(state, gpu_pod("p", 500, spec="V100"))
    assert d is not None and d.node == 1
    d = policy.place(state, gpu_pod("q", 1000, 2, spec="V100|P100"))
    assert d is not None and d.node == 1
    assert policy.place(state, gpu_pod("r", 100, spec="A100")) is None


def test_cpu_and_memory_are_respected() -> None:
    nodes = [GpuNode("n", 4000, 8192, 4, "T4")]
    for name in ALL:
        state = ClusterState(nodes)
        policy = make_policy(name, [gpu_pod("w", 500)], state)
        assert policy.place(state, gpu_pod("cpu", 100, cpu=5000)) is None
        assert policy.place(state, Pod("mem", 100, 9000)) is None


def test_fgd_keeps_gpus_usable_for_the_workload() -> None:
    # Workload: only half-GPU pods. Node a has 700 free, node b a whole GPU. A 500 pod on a
    # would strand 200; on b it leaves 500, still usable, and a still takes one more pod.
    nodes = [GpuNode("a", 64000, 65536, 1, "T4"), GpuNode("b", 64000, 65536, 1, "T4")]
    workload = [gpu_pod(f"w{i}", 500) for i in range(10)]
    state = ClusterState(nodes)
    state.allocate(0, gpu_pod("old", 300), (0,))
    fgd = Fgd(TargetWorkload(workload, state.models))
    pod = gpu_pod("new", 500)
    fd = fgd.place(state, pod)
    bd = BestFit().place(state, pod)
    assert fd is not None and bd is not None
    assert fd.node == 1  # FGD leaves usable capacity
    assert bd.node == 0  # best-fit packs into the tightest node and strands 200 milli
    # whole-GPU workload: a shared pod should go where a GPU is already broken
    whole = Fgd(TargetWorkload([gpu_pod("w", 1000)], state.models))
    d = whole.place(state, gpu_pod("tiny", 100))
    assert d is not None and d.node == 0
    frag = whole.workload.fragmentation(state.gpu_free, state.cpu_free, state.mem_free, state.model)
    assert frag.tolist() == [700.0, 0.0]


def test_replay_is_deterministic_per_seed() -> None:
    nodes = small_cluster()
    pods = random_pods(40, seed=2)
    state = ClusterState(nodes)
    first = sample_arrivals(pods, state.capacity_milli, seed=7)
    assert [p.name for p in first] == [
        p.name for p in sample_arrivals(pods, state.capacity_milli, seed=7)
    ]
    assert [p.name for p in first] != [
        p.name for p in sample_arrivals(pods, state.capacity_milli, seed=8)
    ]
    assert sum(p.gpu_request_milli for p in first) >= state.capacity_milli
    assert sum(p.gpu_request_milli for p in first[:-1]) < state.capacity_milli
    for name in ("fgd", "cpsat"):
        runs = [replay(nodes, first, make_policy(name, pods, state, seed=0)) for _ in range(2)]
        assert runs[0].placements == runs[1].placements
        assert runs[0].at_load == runs[1].at_load
        assert set(runs[0].at_load) == {0.5, 0.8, 0.9, 1.0}


def _write_trace(tmp_path: Path) -> tuple[Path, Path]:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n"
        "n0,32000,131072,2,T4\nn1,64000,262144,4,V100M16\nn2,96000,393216,8,G2\n"
    )
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase\n"
        "p0,4000,8192,1,500,,LS,Running\n"
        "p1,8000,16384,1,1000,,LS,Running\n"
        "p2,2000,4096,0,0,,BE,Running\n"
        "p3,16000,32768,2,1000,V100M16|G2,LS,Running\n"
        "p4,4000,8192,1,250,T4,BE,Running\n"
    )
    return nodes, pods


def test_cli_writes_results_and_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes, pods = _write_trace(tmp_path)
    out = tmp_path / "out"
    base = ["bench", "placement", "--nodes", str(nodes), "--pods", str(pods), "--seed", "1"]
    code = main([*base, "--policies", ",".join(ALL), "--out", str(out)])
    assert code == 0
    data = json.loads((out / "results.json").read_text())
    assert list(data["policies"]) == list(ALL)
    for entry in data["policies"].values():
        assert set(entry["at_load"]) == {"0.5", "0.8", "0.9", "1.0"}
        assert entry["violations"] == 0
        point = entry["at_load"]["1.0"]
        assert point["unallocated"] == pytest.approx(1 - point["allocated"], abs=1e-5)
        assert entry["placements"][0].keys() == {"pod", "node", "gpu_index"}
    assert (out / "allocation_vs_load.png").stat().st_size > 0
    capsys.readouterr()
    assert main([*base, "--policies", "best-fit,magic", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "magic" in err[0]
    assert main(["bench", "placement", "--nodes", "/no/such.csv", "--pods", str(pods)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_loads_the_alibaba_trace() -> None:
    if not DATA.is_dir():
        pytest.skip(f"benchmark data not present at {DATA}")
    nodes = load_nodes(DATA / "alibaba_openb_node_list_gpu_node.csv")
    pods = load_pods(DATA / "alibaba_openb_pod_list_gpuspec33.csv")
    assert len(nodes) == 1213
    assert sum(n.gpus for n in nodes) == 6212
    assert any(p.gpu_spec for p in pods) and any(p.cpu_only for p in pods)


def test_best_fit_leaves_the_least_gpu_then_the_least_cpu() -> None:
    nodes = [
        GpuNode("roomy-gpu", 8000, 65536, 2, "T4"),
        GpuNode("tight-gpu-roomy-cpu", 64000, 65536, 1, "T4"),
        GpuNode("tight-gpu-tight-cpu", 4000, 65536, 1, "T4"),
    ]
    state = ClusterState(nodes)
    # GPU left decides first (absolute milli): the one-GPU nodes leave 500, the two-GPU 1500;
    # between the two, the one with less CPU left.
    decision = BestFit().place(state, Pod("p", 1000, 1024, num_gpu=1, gpu_milli=500))
    assert decision is not None and decision.node == 2
    # A CPU-only pod too goes where the least GPU is left (1000 milli), then the least CPU.
    cpu_pod = BestFit().place(state, Pod("c", 3000, 1024))
    assert cpu_pod is not None and cpu_pod.node == 2
