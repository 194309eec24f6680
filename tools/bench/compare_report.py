#!/usr/bin/env python3
"""Collects what tools/bench/compare_llamacpp.sh measured into
OUTDIR/results.json and prints the qlm vs llama.cpp table (also written to
OUTDIR/results.md).

Per row: OUTDIR/SHAPE-TYPE.qlm.jsonl (qlm bench --json), .llama.json
(llama-bench -o json), .seconds (wall time of each), the .qlm/.gguf files.
Goals (issue #6): pp >= 1.25x llama.cpp; tg >= 1.25x llama.cpp or >= 95% of
the read-bandwidth bound where that is lower (bound = the read GB/s that qlm
bench's STREAM-like probe measured in the same run / weight bytes qlm reads
per generated token)."""
import argparse
import json
import os
import platform
import subprocess
import sys


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError as e:
        return f"({e})"


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def cpu_model():
    for line in (read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def load_row(outdir, shape, typ):
    base = os.path.join(outdir, f"{shape}-{typ}")
    qlm = [json.loads(l) for l in (read_text(base + ".qlm.jsonl") or "").splitlines() if l.startswith("{")]
    llama_text = read_text(base + ".llama.json")
    if not qlm or llama_text is None:
        sys.exit(f"compare_report: results of {shape} {typ} missing in {outdir}")
    seconds = {}
    for line in (read_text(base + ".seconds") or "").splitlines():
        who, s = line.split()
        seconds[who] = float(s)
    return {
        "shape": shape, "type": typ,
        "qlm_file": base + ".qlm", "qlm_file_bytes": os.path.getsize(base + ".qlm"),
        "gguf_file": base + ".gguf", "gguf_file_bytes": os.path.getsize(base + ".gguf"),
        "seconds": seconds, "qlm": qlm, "llama_cpp": json.loads(llama_text),
    }


def qlm_result(row, test, threads):
    for r in row["qlm"]:
        if r.get("test") == test and r.get("threads") == threads:
            return r
    return None


def llama_result(row, test, threads, pp, tg):
    want = (pp, 0) if test.startswith("pp") else (0, tg)
    for r in row["llama_cpp"]:
        if (r.get("n_prompt"), r.get("n_gen")) == want and r.get("n_threads") == threads:
            return r
    return None


def cell(row, test, threads, a):
    """(qlm t/s, llama.cpp t/s, ratio, 95% bound or None, goal met)"""
    q = qlm_result(row, test, threads)
    l = llama_result(row, test, threads, a.pp, a.tg)
    if not q or not l:
        return None
    ratio = q["avg_ts"] / l["avg_ts"] if l["avg_ts"] else float("inf")
    bound = None
    goal = 1.25 * l["avg_ts"]
    if test.startswith("tg"):
        bw = qlm_result(row, "read_bw", threads)
        if bw and q["weight_bytes"]:
            bound = 0.95 * bw["gbps"] * 1e9 / q["weight_bytes"]
            goal = min(goal, bound)
    return q, l, ratio, bound, q["avg_ts"] >= goal


def fmt(x):
    return f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def table(rows, a):
    threads = [int(t) for t in a.threads.split(",")]
    tests = [f"pp{a.pp}", f"tg{a.tg}"]
    head = ["shape", "type", "GGUF MiB"]
    for test in tests:
        for t in threads:
            head += [f"{test} {t}t qlm", "llama.cpp", "ratio"] + (["95% bw bound"] if test.startswith("tg") else [])
    head.append("read GB/s " + "/".join(f"{t}t" for t in threads))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        out = [row["shape"], row["type"].upper(), f"{row['gguf_file_bytes'] / 2**20:.0f}"]
        for test in tests:
            for t in threads:
                c = cell(row, test, t, a)
                n = 4 if test.startswith("tg") else 3
                if c is None:
                    out += ["–"] * n
                    continue
                q, l, ratio, bound, met = c
                out += [f"{fmt(q['avg_ts'])} ± {fmt(q['stddev_ts'])}", f"{fmt(l['avg_ts'])} ± {fmt(l['stddev_ts'])}",
                        f"{ratio:.2f} {'✓' if met else '✗'}"]
                if n == 4:
                    out.append(fmt(bound) if bound else "–")
        bws = [qlm_result(row, "read_bw", t) for t in threads]
        out.append("/".join(f"{b['gbps']:.1f}" if b else "–" for b in bws))
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    for k in ("outdir", "rows", "llama-build", "qlm", "source", "start", "load-before", "threads", "nice"):
        p.add_argument("--" + k, required=True)
    for k in ("reps", "pp", "tg"):
        p.add_argument("--" + k, type=int, required=True)
    a = p.parse_args()
    rows = [load_row(a.outdir, *r.split(":")) for r in a.rows.split(",")]
    llama0 = rows[0]["llama_cpp"][0] if rows[0]["llama_cpp"] else {}
    git = ["git", "-C", a.source]
    results = {
        "started": a.start,
        "settings": {"pp": a.pp, "tg": a.tg, "reps": a.reps, "threads": a.threads, "nice": a.nice},
        "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "kernel": platform.release(),
                    "loadavg_before": a.load_before, "loadavg_after": (read_text("/proc/loadavg") or "").strip()},
        "env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "QLM_", "KMP_"))},
        "qlm": {"version": run([a.qlm, "version"]), "commit": run(git + ["rev-parse", "HEAD"]),
                "dirty": bool(run(git + ["status", "--porcelain", "--untracked-files=no"])),
                "sysinfo": run([a.qlm, "sysinfo"])},
        "llama_cpp": {"build_dir": a.llama_build, "VERSION": read_text(os.path.join(a.llama_build, "VERSION")),
                      "build_commit": llama0.get("build_commit"), "build_number": llama0.get("build_number"),
                      "cpu_info": llama0.get("cpu_info"), "backends": llama0.get("backends")},
        "rows": rows,
    }
    with open(os.path.join(a.outdir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    md = table(rows, a)
    secs = {who: sum(r["seconds"].get(who, 0) for r in rows) for who in ("qlm", "llama")}
    md += (f"\n\n{results['qlm']['version']} ({results['qlm']['commit'][:12]}"
           f"{', uncommitted changes' if results['qlm']['dirty'] else ''}), llama.cpp "
           f"{results['llama_cpp']['build_commit']}; {results['machine']['cpu']}, {os.cpu_count()} CPUs; "
           f"-p {a.pp} -n {a.tg} -r {a.reps} -t {a.threads}{'; ' + a.nice if a.nice else ''}; load average "
           f"{a.load_before} before, {' '.join(results['machine']['loadavg_after'].split()[:3])} after; "
           f"benchmark wall time: qlm {secs['qlm']:.0f} s, llama.cpp {secs['llama']:.0f} s. "
           "t/s = mean ± sd; ratio = qlm / llama.cpp, ✓ = goal met (pp: ≥ 1.25x; tg: ≥ 1.25x or ≥ the 95% "
           "bound where that is lower); 95% bw bound = 0.95 x qlm's read-bandwidth probe / weight bytes per token.\n")
    with open(os.path.join(a.outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
