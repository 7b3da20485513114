#!/usr/bin/env python3
# Proxy figures for a JS component's core module in Wasmtime (wasmtime-py 50):
# cold compile, cached (deserialize) load, and instantiate per request.
import sys, time, statistics
from wasmtime import Engine, Config, Module, Store, Linker
path = sys.argv[1]
cfg = Config()
engine = Engine(cfg)
t = time.perf_counter(); module = Module.from_file(engine, path); compile_s = time.perf_counter() - t
blob = module.serialize()
t = time.perf_counter(); cached = Module.deserialize(engine, blob); deser_ms = (time.perf_counter() - t) * 1000
linker = Linker(engine)
linker.allow_shadowing = True
linker.define_unknown_imports_as_traps(cached)
times = []
for i in range(200):
    store = Store(engine)
    t = time.perf_counter(); inst = linker.instantiate(store, cached); times.append((time.perf_counter() - t) * 1000)
    del inst, store
times.sort()
print(f"{path}: {len(open(path,'rb').read())/1048576:.1f} MiB core module; compile {compile_s:.1f} s; "
      f"deserialize (cached) {deser_ms:.1f} ms ({len(blob)/1048576:.1f} MiB compiled); "
      f"instantiate p50 {times[100]:.3f} ms p99 {times[197]:.3f} ms")
