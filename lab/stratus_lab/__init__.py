# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stratus's lab and the toolkit every harness (tests/e2e, reliability/, bench/, the CLI's `lab`
commands) drives it with: one module per thing driven, as Nova keeps nova/tests/fixtures/.

    lab                 the namespaced hypervisors (`python -m stratus_lab up|down|status|daemon`)
    baremetal           the BMC namespace: blank nodes behind Redfish and IPMI emulators (`up --baremetal N`)
    session             a harness's lab: up (and down on exit), its environment, its hosts
    host                one hypervisor: a command in its namespaces or over its SSH, libvirt
    migration           libvirt's own live migration with disk copy between two hypervisors (virsh)
    store               the state store read with SQL
    ansible_run         ansible-playbook runs: the one environment, inventories, output
    console             a guest's serial console log
    lock                the one lab lock
    audit               the store against what libvirt holds
    inventory_overlay   a harness's catalog as an inventory source
    pg_server           the throwaway PostgreSQL server
    scenario            the reliability scenario contract (result file, exit codes)
    syslogd             a hypervisor's system log (a script the lab starts in its namespaces)

The product's constants (pool names, the placeholder MAC) come from the collection itself, which
setup/bootstrap.sh makes importable in .venv as ansible_collections.stratus.compute.
"""
