"""The Redfish (sushy) and IPMI (pyghmi) drivers with their clients mocked: each call, each error mapping.

The libraries' own exception classes are raised (the mapping is tested against the real ones), so
these run where setup/requirements.txt installed sushy and pyghmi (.venv); tests/unit/plugins/
module_utils/test_baremetal_driver.py tests the interface without either.
"""
from __future__ import annotations

import hashlib
import types
import typing as t
from unittest import mock

import pytest

sushy = pytest.importorskip("sushy")
pyghmi_exceptions = pytest.importorskip("pyghmi.exceptions")
from pyghmi.ipmi.private.serversession import ServerSession  # noqa: E402  (virtualbmc's BMC side)
from pyghmi.ipmi.private.session import Session as ClientSession  # noqa: E402

from ansible_collections.stratus.compute.plugins.module_utils.baremetal import ipmi, redfish  # noqa: E402
from ansible_collections.stratus.compute.plugins.module_utils.baremetal.driver import (  # noqa: E402
    POWER_OFF, POWER_ON, BMCAccess, BMCInventory,
)
from ansible_collections.stratus.compute.plugins.module_utils.errors import StratusError  # noqa: E402

PASSWORD = "Bmc-S3cret-77f"
ISO = "http://10.0.0.1:8080/images/deploy.iso"


def redfish_access() -> BMCAccess:
    return BMCAccess(node="n1", address="https://10.0.0.5:8443", username="admin", password=PASSWORD,
                     system_id="/redfish/v1/Systems/node-1")


def ipmi_access(address: str = "10.0.0.6:6230") -> BMCAccess:
    return BMCAccess(node="n2", address=address, username="admin", password=PASSWORD)


def refused(call: t.Callable[[], t.Any], code: str, field: str) -> StratusError:
    with pytest.raises(StratusError) as err:
        call()
    assert (err.value.code, err.value.field) == (code, field)
    assert PASSWORD not in str(err.value) and PASSWORD not in repr(err.value.args)
    assert err.value.__cause__ is None  # the library's exception is not chained into a traceback
    return err.value


def http_error(cls: type, status: int, method: str = "GET") -> Exception:
    response = mock.Mock(status_code=status)
    response.json.return_value = {"error": {"code": "Base.1.0.GeneralError", "message": "refused"}}
    return cls(method, "https://10.0.0.5:8443/redfish/v1/Systems/node-1", response)


# ---------------------------------------------------------------- Redfish

@pytest.fixture()
def sushy_root() -> t.Iterator[mock.Mock]:
    """sushy.Sushy mocked: the root it returns, whose get_system gives a System mock."""
    with mock.patch.object(sushy, "Sushy") as root_class:
        root = root_class.return_value
        system = root.get_system.return_value
        system.power_state = sushy.PowerState.OFF
        yield root_class


def system_of(root_class: mock.Mock) -> mock.Mock:
    return root_class.return_value.get_system.return_value


def test_redfish_connects_once_with_the_node_s_access(sushy_root: mock.Mock) -> None:
    driver = redfish.RedfishDriver(redfish_access())
    assert driver.verify() == POWER_OFF
    assert driver.power_state() == POWER_OFF
    sushy_root.assert_called_once_with("https://10.0.0.5:8443", username="admin", password=PASSWORD, verify=True,
                                       read_timeout=90, connect_timeout=90)
    sushy_root.return_value.get_system.assert_called_once_with("/redfish/v1/Systems/node-1")
    assert system_of(sushy_root).refresh.call_count == 2  # each read asks the BMC again


@pytest.mark.parametrize("state, power", [
    ("ON", POWER_ON), ("POWERING_ON", POWER_ON), ("OFF", POWER_OFF), ("POWERING_OFF", POWER_OFF)])
def test_redfish_power_states(sushy_root: mock.Mock, state: str, power: str) -> None:
    system_of(sushy_root).power_state = getattr(sushy.PowerState, state)
    assert redfish.RedfishDriver(redfish_access()).power_state() == power


def test_redfish_unknown_power_state_is_a_bmc_error(sushy_root: mock.Mock) -> None:
    system_of(sushy_root).power_state = None
    refused(redfish.RedfishDriver(redfish_access()).power_state, "BMCError", "hostvars[n1]")


def test_redfish_power_on_and_off_only_when_needed(sushy_root: mock.Mock) -> None:
    system = system_of(sushy_root)
    driver = redfish.RedfishDriver(redfish_access())
    driver.power_on()
    system.reset_system.assert_called_once_with(sushy.ResetType.ON)
    system.power_state = sushy.PowerState.ON
    driver.power_on()
    assert system.reset_system.call_count == 1
    driver.power_off()
    system.reset_system.assert_called_with(sushy.ResetType.FORCE_OFF)
    driver.power_off(force=False)
    system.reset_system.assert_called_with(sushy.ResetType.GRACEFUL_SHUTDOWN)
    system.power_state = sushy.PowerState.OFF
    system.reset_system.reset_mock()
    driver.power_off()
    system.reset_system.assert_not_called()


@pytest.mark.parametrize("device, once, target, enabled", [
    ("cdrom", True, "CD", "ONCE"), ("pxe", True, "PXE", "ONCE"), ("disk", False, "HDD", "CONTINUOUS")])
def test_redfish_boot_device(sushy_root: mock.Mock, device: str, once: bool, target: str, enabled: str) -> None:
    redfish.RedfishDriver(redfish_access()).set_boot_device(device, once=once)
    system_of(sushy_root).set_system_boot_options.assert_called_once_with(
        target=getattr(sushy.BootSource, target), enabled=getattr(sushy.BootSourceOverrideEnabled, enabled))


def test_redfish_unknown_boot_device_is_refused_before_any_call(sushy_root: mock.Mock) -> None:
    refused(lambda: redfish.RedfishDriver(redfish_access()).set_boot_device("floppy"), "InvalidRequest", "hostvars[n1]")
    sushy_root.assert_not_called()


def cd_drive(root_class: mock.Mock, inserted: bool = False, image: t.Optional[str] = None) -> mock.Mock:
    floppy = mock.Mock(media_types=[sushy.VirtualMediaType.FLOPPY])
    cd = mock.Mock(media_types=[sushy.VirtualMediaType.CD, sushy.VirtualMediaType.DVD], inserted=inserted, image=image)
    system_of(root_class).virtual_media.get_members.return_value = [floppy, cd]
    return cd


def test_redfish_insert_media_into_the_cd_drive(sushy_root: mock.Mock) -> None:
    cd = cd_drive(sushy_root)
    redfish.RedfishDriver(redfish_access()).insert_media(ISO)
    cd.insert_media.assert_called_once_with(ISO, inserted=True, write_protected=True)
    cd.eject_media.assert_not_called()
    system_of(sushy_root).reset_system.assert_not_called()  # an insert neither powers on ...
    system_of(sushy_root).set_system_boot_options.assert_not_called()  # ... nor changes the boot device


def test_redfish_insert_media_again_does_nothing_and_another_one_replaces(sushy_root: mock.Mock) -> None:
    cd = cd_drive(sushy_root, inserted=True, image=ISO)
    driver = redfish.RedfishDriver(redfish_access())
    driver.insert_media(ISO)
    cd.insert_media.assert_not_called()
    cd.image = "http://10.0.0.1:8080/images/old.iso"
    driver.insert_media(ISO)
    cd.eject_media.assert_called_once_with()
    cd.insert_media.assert_called_once_with(ISO, inserted=True, write_protected=True)


def test_redfish_virtual_media_of_the_managers_when_the_system_has_none(sushy_root: mock.Mock) -> None:
    system = system_of(sushy_root)
    type(system).virtual_media = mock.PropertyMock(
        side_effect=sushy.exceptions.MissingAttributeError(attribute="VirtualMedia", resource="System"))
    cd = mock.Mock(media_types=[sushy.VirtualMediaType.DVD], inserted=False)
    manager = mock.Mock()
    manager.virtual_media.get_members.return_value = [cd]
    system.managers = [manager]
    redfish.RedfishDriver(redfish_access()).insert_media(ISO)
    cd.insert_media.assert_called_once()


def test_redfish_eject_only_what_is_inserted(sushy_root: mock.Mock) -> None:
    cd = cd_drive(sushy_root, inserted=False)
    driver = redfish.RedfishDriver(redfish_access())
    driver.eject_media()
    cd.eject_media.assert_not_called()
    cd.inserted = True
    driver.eject_media()
    cd.eject_media.assert_called_once_with()


def test_redfish_no_cd_drive_is_unsupported(sushy_root: mock.Mock) -> None:
    system_of(sushy_root).virtual_media.get_members.return_value = [
        mock.Mock(media_types=[sushy.VirtualMediaType.USB_STICK])]
    refused(lambda: redfish.RedfishDriver(redfish_access()).insert_media(ISO), "BMCUnsupported", "hostvars[n1]")


@pytest.mark.parametrize("url", ["ftp://10.0.0.1/x.iso", "http://10.0.0.1/a b.iso", "http://x/\"><x", ISO + "\n"])
def test_redfish_media_url_is_checked_before_any_call(sushy_root: mock.Mock, url: str) -> None:
    refused(lambda: redfish.RedfishDriver(redfish_access()).insert_media(url), "InvalidRequest", "hostvars[n1]")
    sushy_root.assert_not_called()


def test_redfish_inventory(sushy_root: mock.Mock) -> None:
    system = system_of(sushy_root)
    system.processors.summary.count = 8
    system.memory_summary.size_gib = 32
    system.ethernet_interfaces.summary = {"52:54:00:AA:00:02": "Enabled", "52:54:00:aa:00:01": "Disabled"}
    assert redfish.RedfishDriver(redfish_access()).read_inventory() == BMCInventory(
        cpus=8, memory_mb=32768, macs=("52:54:00:aa:00:01", "52:54:00:aa:00:02"))


def test_redfish_inventory_without_processors_or_memory(sushy_root: mock.Mock) -> None:
    system = system_of(sushy_root)
    system.processors.summary.count = 0
    system.memory_summary = None
    system.ethernet_interfaces.summary = {}
    assert redfish.RedfishDriver(redfish_access()).read_inventory() == BMCInventory(cpus=None, memory_mb=None, macs=())


def test_redfish_inventory_of_a_system_without_processors_or_nics(sushy_root: mock.Mock) -> None:
    system = system_of(sushy_root)
    missing = sushy.exceptions.MissingAttributeError(attribute="Processors", resource="System")
    type(system).processors = mock.PropertyMock(side_effect=missing)
    type(system).ethernet_interfaces = mock.PropertyMock(side_effect=missing)
    system.memory_summary.size_gib = 2
    assert redfish.RedfishDriver(redfish_access()).read_inventory() == BMCInventory(cpus=None, memory_mb=2048, macs=())


@pytest.mark.parametrize("exc, code, field", [
    (sushy.exceptions.ConnectionError(url="https://10.0.0.5:8443", error="Connection refused"), "BMCUnreachable",
     "hostvars[n1].stratus_bm_address"),
    (http_error(sushy.exceptions.AccessError, 401), "BMCAuthFailed", "hostvars[n1].stratus_bm_password"),
    (http_error(sushy.exceptions.ResourceNotFoundError, 404), "BMCError", "hostvars[n1].stratus_bm_system_id"),
    (http_error(sushy.exceptions.ServerSideError, 500), "BMCError", "hostvars[n1]"),
    (sushy.exceptions.MissingAttributeError(attribute="PowerState", resource="System"), "BMCError", "hostvars[n1]"),
])
def test_redfish_errors_when_connecting(sushy_root: mock.Mock, exc: Exception, code: str, field: str) -> None:
    sushy_root.side_effect = exc
    err = refused(redfish.RedfishDriver(redfish_access()).verify, code, field)
    assert err.message.startswith("node n1: redfish BMC https://10.0.0.5:8443: read the power state: ")


def test_redfish_error_of_a_call(sushy_root: mock.Mock) -> None:
    system_of(sushy_root).reset_system.side_effect = http_error(sushy.exceptions.BadRequestError, 400, "POST")
    err = refused(redfish.RedfishDriver(redfish_access()).power_on, "BMCError", "hostvars[n1]")
    assert ": power on: " in err.message


def test_redfish_a_password_the_library_echoes_is_masked(sushy_root: mock.Mock) -> None:
    sushy_root.side_effect = sushy.exceptions.ConnectionError(url="https://10.0.0.5", error="bad auth " + PASSWORD)
    err = refused(redfish.RedfishDriver(redfish_access()).verify, "BMCUnreachable", "hostvars[n1].stratus_bm_address")
    assert "bad auth ********" in err.message


def test_redfish_a_programming_error_is_not_disguised(sushy_root: mock.Mock) -> None:
    system_of(sushy_root).reset_system.side_effect = TypeError("a bug")
    with pytest.raises(TypeError):
        redfish.RedfishDriver(redfish_access()).power_on()


# ---------------------------------------------------------------- IPMI

@pytest.fixture()
def ipmi_command() -> t.Iterator[mock.Mock]:
    with mock.patch("pyghmi.ipmi.command.Command") as command_class:
        command_class.return_value.get_power.return_value = {"powerstate": "off"}
        yield command_class


@pytest.mark.parametrize("address, host, port", [
    ("10.0.0.6", "10.0.0.6", 623), ("10.0.0.6:6230", "10.0.0.6", 6230), ("bmc-7.lab", "bmc-7.lab", 623),
    ("[fd00::6]:6231", "fd00::6", 6231), ("[fd00::6]", "fd00::6", 623)])
def test_ipmi_logs_in_once_to_host_and_port(ipmi_command: mock.Mock, address: str, host: str, port: int) -> None:
    driver = ipmi.IPMIDriver(ipmi_access(address))
    assert driver.verify() == POWER_OFF and driver.power_state() == POWER_OFF
    ipmi_command.assert_called_once_with(bmc=host, userid="admin", password=PASSWORD, port=port)


def test_ipmi_power_on_and_off_only_when_needed(ipmi_command: mock.Mock) -> None:
    session = ipmi_command.return_value
    driver = ipmi.IPMIDriver(ipmi_access())
    driver.power_on()
    session.set_power.assert_called_once_with("on")
    session.get_power.return_value = {"powerstate": "on"}
    driver.power_on()
    assert session.set_power.call_count == 1
    driver.power_off()
    session.set_power.assert_called_with("off")
    driver.power_off(force=False)
    session.set_power.assert_called_with("shutdown")


def test_ipmi_unknown_power_state_is_a_bmc_error(ipmi_command: mock.Mock) -> None:
    ipmi_command.return_value.get_power.return_value = {}
    refused(ipmi.IPMIDriver(ipmi_access()).power_state, "BMCError", "hostvars[n2]")


@pytest.mark.parametrize("device, once, bootdev", [
    ("pxe", True, "network"), ("disk", False, "hd"), ("cdrom", True, "optical")])
def test_ipmi_boot_device(ipmi_command: mock.Mock, device: str, once: bool, bootdev: str) -> None:
    ipmi.IPMIDriver(ipmi_access()).set_boot_device(device, once=once)
    ipmi_command.return_value.set_bootdev.assert_called_once_with(bootdev, persist=not once)


@pytest.mark.parametrize("method", ["insert_media", "eject_media"])
def test_ipmi_has_no_virtual_media(ipmi_command: mock.Mock, method: str) -> None:
    driver = ipmi.IPMIDriver(ipmi_access())
    args = (ISO,) if method == "insert_media" else ()
    err = refused(lambda: getattr(driver, method)(*args), "BMCUnsupported", "hostvars[n2].stratus_bm_driver")
    assert "PXE" in err.message
    ipmi_command.assert_not_called()


def test_ipmi_inventory_takes_the_macs_the_fru_data_has(ipmi_command: mock.Mock) -> None:
    ipmi_command.return_value.get_inventory.return_value = iter([
        ("System", {"Product name": "VM", "MAC Address 1": "52:54:00:BB:00:01"}),
        ("NIC 2", {"MAC Address": "52-54-00-bb-00-02", "Serial": "x"}),
        ("Empty", None)])
    assert ipmi.IPMIDriver(ipmi_access()).read_inventory() == BMCInventory(
        cpus=None, memory_mb=None, macs=("52:54:00:bb:00:01", "52:54:00:bb:00:02"))


@pytest.mark.parametrize("exc, code, field", [
    (pyghmi_exceptions.IpmiException("timeout"), "BMCUnreachable", "hostvars[n2].stratus_bm_address"),
    (pyghmi_exceptions.IpmiException(None), "BMCUnreachable", "hostvars[n2].stratus_bm_address"),
    (pyghmi_exceptions.IpmiException("Session no longer connected"), "BMCUnreachable",
     "hostvars[n2].stratus_bm_address"),
    (OSError(-2, "Name or service not known"), "BMCUnreachable", "hostvars[n2].stratus_bm_address"),
    (pyghmi_exceptions.IpmiException("Incorrect password provided"), "BMCAuthFailed",
     "hostvars[n2].stratus_bm_password"),
    (pyghmi_exceptions.IpmiException("Unauthorized name"), "BMCAuthFailed", "hostvars[n2].stratus_bm_password"),
    (pyghmi_exceptions.IpmiException("Node busy", 0xc0), "BMCError", "hostvars[n2]"),
    (pyghmi_exceptions.BmcErrorException("timeout in the BMC's answer"), "BMCError", "hostvars[n2]"),
    (pyghmi_exceptions.UnsupportedFunctionality("no such command"), "BMCUnsupported", "hostvars[n2]"),
])
def test_ipmi_errors_when_logging_in(ipmi_command: mock.Mock, exc: Exception, code: str, field: str) -> None:
    ipmi_command.side_effect = exc
    err = refused(ipmi.IPMIDriver(ipmi_access()).verify, code, field)
    assert err.message.startswith("node n2: ipmi BMC 10.0.0.6:6230: read the power state: ")


def test_ipmi_error_of_a_call_and_a_password_it_echoes(ipmi_command: mock.Mock) -> None:
    ipmi_command.return_value.set_bootdev.side_effect = pyghmi_exceptions.IpmiException("bad request " + PASSWORD)
    err = refused(lambda: ipmi.IPMIDriver(ipmi_access()).set_boot_device("pxe"), "BMCError", "hostvars[n2]")
    assert "bad request ********" in err.message and ": set the boot device pxe: " in err.message


class ProposingClient:
    """pyghmi's client session as it stands after proposing suite 17 (its _open_rmcpplus_request)."""

    def __init__(self) -> None:
        self.attemptedhash = 256
        self.currhashlib: t.Any = hashlib.sha256
        self.currhashlen = 16
        self.answers: list[tuple[int, t.Any, int]] = []

    def _got_rmcp_response(self, data: t.Any) -> None:
        """pyghmi's own handling: what it would hash the RAKP exchange with."""
        self.answers.append((self.attemptedhash, self.currhashlib, self.currhashlen))


def open_session_answer(suite3: bool = True, status: int = 0) -> bytearray:
    """What a BMC answers to the Open Session Request: virtualbmc's own answer (pyghmi's server, suite 3
    always), else a suite 17 BMC's (the same layout, SHA-256 algorithms)."""
    request = bytearray([7, 0, 0, 0, 0x53, 0x41, 0x43, 0x78])
    answer = ServerSession.create_open_session_response(types.SimpleNamespace(), request)
    if not suite3:
        answer[16], answer[24] = 3, 4
    answer[1] = status
    return answer


@pytest.fixture()
def client_class() -> type[ProposingClient]:
    class Client(ProposingClient):
        pass
    ipmi.adopt_answered_cipher_suite(Client)
    ipmi.adopt_answered_cipher_suite(Client)  # once: the second call changes nothing
    return Client


def test_ipmi_client_follows_a_bmc_that_answers_suite_3(client_class: type[ProposingClient]) -> None:
    client = client_class()
    client._got_rmcp_response(open_session_answer())  # pylint: disable=protected-access
    assert client.answers == [(1, hashlib.sha1, 12)]  # RAKP and integrity with SHA-1, as the BMC chose


@pytest.mark.parametrize("answer", [open_session_answer(suite3=False), open_session_answer(status=0x0d)],
                         ids=["suite 17 answered", "refused"])
def test_ipmi_client_keeps_what_pyghmi_does_otherwise(client_class: type[ProposingClient], answer: bytearray) -> None:
    client = client_class()
    client._got_rmcp_response(answer)  # pylint: disable=protected-access
    assert client.answers == [(256, hashlib.sha256, 16)]


def test_ipmi_driver_teaches_pyghmi_once(ipmi_command: mock.Mock) -> None:
    ipmi.IPMIDriver(ipmi_access()).verify()
    assert ClientSession.stratus_adopts_answered_suite is True
    handler = ClientSession._got_rmcp_response  # pylint: disable=protected-access
    ipmi.IPMIDriver(ipmi_access()).verify()
    assert ClientSession._got_rmcp_response is handler  # pylint: disable=protected-access


@pytest.mark.parametrize("exc", [pyghmi_exceptions.IpmiException("Invalid command"),
                                 pyghmi_exceptions.IpmiException("no FRU", 0xCB)], ids=["text", "code"])
def test_ipmi_inventory_of_a_bmc_without_fru_data_reports_nothing(ipmi_command: mock.Mock, exc: Exception) -> None:
    """virtualbmc answers Invalid command to the FRU and SDR reads: what came before is kept."""
    def fru() -> t.Iterator[tuple[str, dict[str, str]]]:
        yield ("System", {"Device ID": "32"})
        yield ("NIC 1", {"MAC Address 1": "52:54:00:BB:00:01"})
        raise exc
    ipmi_command.return_value.get_inventory.return_value = fru()
    found = ipmi.IPMIDriver(ipmi_access()).read_inventory()
    assert found == BMCInventory(cpus=None, memory_mb=None, macs=("52:54:00:bb:00:01",))


def test_ipmi_inventory_fault_is_still_a_fault(ipmi_command: mock.Mock) -> None:
    ipmi_command.return_value.get_inventory.side_effect = pyghmi_exceptions.IpmiException("Node busy", 0xc0)
    refused(ipmi.IPMIDriver(ipmi_access()).read_inventory, "BMCError", "hostvars[n2]")
