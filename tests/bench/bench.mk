# tests/bench/bench.mk: the `make bench` target; the Makefile includes it
# (and declares bench phony).  Installs wrk, hyperfine and perf when
# missing, builds, then runs tests/bench/run.sh.  QUICK=1, DUR, PAIRS,
# REPEAT, CHILDREN, WORKERS and PERF=1 pass through the environment:
#	make bench QUICK=1
bench:
	@sh tests/deps.sh bench
	$(MAKE) all
	OCSPXY_BUILD=$(CURDIR)/$(BUILD) bash tests/bench/run.sh
