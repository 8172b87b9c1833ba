# Stratus: every entry point. `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
HYPERVISORS ?= 2
# bare-metal nodes behind emulated BMCs (stratus_lab/baremetal.py); empty: none, or as many as the lab has
BAREMETAL ?=
VENV := .venv
PY := $(VENV)/bin/python
LAB_STATE ?= .lab
INVENTORY := -i $(LAB_STATE)/inventory.yml -i inventory/demo.yml
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export STRATUS_STATE_DIR ?= $(abspath $(LAB_STATE))/store

.PHONY: setup image lab-up lab-down lab-status demo demo-baremetal test test-unit test-e2e lint sanity server-doc clean bench-scheduler bench bench-baremetal bench-power bench-live-migration bench-api reliability

setup:
	@bash setup/bootstrap.sh

image: setup
	@$(PY) lab/image/build.py

lab-up: setup
	@$(PY) -m stratus_lab up --hypervisors $(HYPERVISORS) $(if $(BAREMETAL),--baremetal $(BAREMETAL)) --state-dir $(LAB_STATE)

lab-down:
	@if [ -x $(PY) ]; then $(PY) -m stratus_lab down --state-dir $(LAB_STATE); fi
	@rm -rf $(LAB_STATE)/store

lab-status:
	@$(PY) -m stratus_lab status --state-dir $(LAB_STATE)

demo: image lab-up
	@$(VENV)/bin/ansible-playbook $(INVENTORY) playbooks/provision.yml 2>&1 | tee $(LAB_STATE)/demo-provision.log; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "demo: provisioning failed"; exit 1; }
	@if grep -E '^(localhost|hv[0-9]+) +:' $(LAB_STATE)/demo-provision.log | grep -q 'changed=[1-9]'; then \
	  echo "demo: servers provisioned"; else echo "demo: nothing to change (changed=0 on every host)"; fi
	@STRATUS_SHOW_FILE=$(CURDIR)/$(LAB_STATE)/servers.txt $(VENV)/bin/ansible-playbook $(INVENTORY) playbooks/show.yml > $(LAB_STATE)/demo-show.log \
	  || { tail -20 $(LAB_STATE)/demo-show.log; exit 1; }
	@cat $(LAB_STATE)/servers.txt

# A lab of one hypervisor and three nodes (node1, node2 Redfish; node3 IPMI, which has no deploy boot
# interface yet): the operator makes the nodes available, then provision.yml builds two bare-metal
# servers and a virtual one (docs/baremetal.md, "Deploy"); each node's console shows the guest's
# ready line. Start from `make lab-down` (the lab's shape is fixed). LAB_UP_OPTS: e.g. --prefix P.
LAB_UP_OPTS ?=
demo-baremetal: image
	@$(PY) -m stratus_lab up --hypervisors 1 --baremetal 3 --state-dir $(LAB_STATE) $(LAB_UP_OPTS)
	@STRATUS_USER_ID=root STRATUS_PROJECT_ID=ops STRATUS_ROLES=admin $(VENV)/bin/ansible-playbook $(INVENTORY) \
	  playbooks/baremetal_provide_all.yml > $(LAB_STATE)/demo-baremetal-nodes.log \
	  || { tail -30 $(LAB_STATE)/demo-baremetal-nodes.log; exit 1; }
	@$(VENV)/bin/ansible-playbook $(INVENTORY) playbooks/provision.yml -e @inventory/demo_baremetal_servers.yml 2>&1 \
	  | tee $(LAB_STATE)/demo-provision.log; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "demo-baremetal: provisioning failed"; exit 1; }
	@if grep -E '^(localhost|hv[0-9]+) +:' $(LAB_STATE)/demo-provision.log | grep -q 'changed=[1-9]'; then \
	  echo "demo-baremetal: servers provisioned"; else echo "demo-baremetal: nothing to change (changed=0 on every host)"; fi
	@STRATUS_SHOW_FILE=$(abspath $(LAB_STATE))/servers.txt $(VENV)/bin/ansible-playbook $(INVENTORY) playbooks/show.yml \
	  > $(LAB_STATE)/demo-show.log || { tail -20 $(LAB_STATE)/demo-show.log; exit 1; }
	@cat $(LAB_STATE)/servers.txt
	@# the nodes' serial consoles (the lab's BMC namespace logs them): wait up to 5 minutes for the three guests
	@for i in $$(seq 1 150); do \
	  test $$(grep -l "STRATUS-GUEST ready" $(LAB_STATE)/bmc/consoles/node*.log 2>/dev/null | wc -l) -ge 3 && break; sleep 2; done; \
	  grep -H "STRATUS-GUEST ready" $(LAB_STATE)/bmc/consoles/node*.log | sed 's|.*/consoles/||' | sort -u \
	  || { echo "demo-baremetal: no node reported ready"; exit 1; }

test: image
	@bash tests/run.sh

lint: setup
	@bash tests/lint.sh

sanity: setup
	@bash tests/sanity.sh

# The server module's request options from schemas/server.json, their one source (tests/unit/test_server_options.py
# fails while the module differs).
server-doc:
	@$(PY) schemas/gen_server_doc.py

# Scheduler placements per second at 100, 1,000 and 10,000 hosts (median of 3); writes bench-scheduler.json.
bench-scheduler: setup
	@$(PY) bench/scheduler_bench.py

# Stratus vs the libvirt floor vs the community.libvirt peer at N = 10, 30, 90 on a three-hypervisor
# lab of its own (median of 3, plus the scheduler benchmark); writes bench.json. Not part of `make test`.
# Then the bare-metal, power, live-migration and API sections (bench.json's "baremetal", "power", "live_migration" and "api" keys, labs of their own).
# SIZES=10 for a short run (REPEATS: 3 at least, the report is a median).
bench: image
	@$(PY) bench/bench.py $(if $(SIZES),--sizes $(SIZES)) $(if $(REPEATS),--repeats $(REPEATS))
	@$(PY) bench/baremetal_bench.py $(if $(REPEATS),--repeats $(REPEATS))
	@$(PY) bench/power_bench.py $(if $(REPEATS),--repeats $(REPEATS))
	@$(PY) bench/live_migration_bench.py $(if $(REPEATS),--repeats $(REPEATS))
	@$(PY) bench/api_bench.py $(if $(REPEATS),--repeats $(REPEATS))

# The bare-metal section alone (bench.json's "baremetal" key): N = 1..4 deploys and deletes against a
# plain sushy script making the same Redfish calls, on a lab of its own (one hypervisor, five nodes).
bench-baremetal: image
	@$(PY) bench/baremetal_bench.py $(if $(BM_SIZES),--sizes $(BM_SIZES)) $(if $(REPEATS),--repeats $(REPEATS))

# The power section alone (bench.json's "power" key): stop, start and hard reboot of N = 30 servers
# against libvirt-python making the same calls on the same domains, on a lab of its own (stxg, 10.237).
bench-power: image
	@$(PY) bench/power_bench.py $(if $(POWER_N),--servers $(POWER_N)) $(if $(REPEATS),--repeats $(REPEATS))

# The live-migration section alone (bench.json's "live_migration" key): one live migration of a 256 MiB guest
# with its disks, Stratus against virsh migrate --live --copy-storage-all, alternated, on a lab of its own.
bench-live-migration: image
	@$(PY) bench/live_migration_bench.py $(if $(REPEATS),--repeats $(REPEATS))

# The API section alone (bench.json's "api" key, docs/api.md "Benchmarks"): `stratus api` (1 and N workers) serving
# GET /servers/detail with 1,000 servers in a store of its own and token issue, under a client of ours; then
# POST /servers to ACTIVE for N = 10 against ansible-playbook provision.yml on a lab of its own (stxa, 10.229).
# API_NOLAB=1 leaves out the lab.
bench-api: image
	@$(PY) bench/api_bench.py $(if $(REPEATS),--repeats $(REPEATS)) $(if $(API_NOLAB),--no-lab)

# Reliability scenarios (reliability/scenarios/*.py, docs/reliability.md); writes reliability.json.
# ONLY=concurrency,hostile_input runs some; QUICK=1 their short versions.
reliability: image
	@$(PY) reliability/run.py $(if $(ONLY),--only $(ONLY)) $(if $(QUICK),--quick)

clean: lab-down
	rm -rf build tests/output
