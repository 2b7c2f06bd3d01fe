"""The demo that `make run` serves: a real instance on FileStorage, created twice, served."""

from datetime import date
from datetime import timedelta
from pathlib import Path

import os
import pytest
import re
import requests
import socket
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _create_site(instance: Path, port: int) -> str:
    result = subprocess.run(
        [
            str(BIN / "zconsole"),
            "run",
            str(instance / "etc" / "zope.conf"),
            str(ROOT / "scripts" / "create_site.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VIDEOMOTE_PORT": str(port)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Create the demo twice (idempotence), then serve it; yield (url, first, second output)."""
    port = _free_port()
    instance = tmp_path_factory.mktemp("instance")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_instance.py"),
            "--dir",
            str(instance),
            "--port",
            str(port),
        ],
        check=True,
        timeout=60,
    )
    first = _create_site(instance, port)
    server = _serve(instance)
    url = f"http://localhost:{port}/Plone"
    _wait_for(url, server)
    # The Manager works after the first run alone (site creation must not drop it).
    admin_status = requests.get(f"{url}/elever", auth=("admin", "admin"), timeout=30).status_code
    server.terminate()
    server.wait(timeout=30)
    second = _create_site(instance, port)
    server = _serve(instance)
    _wait_for(url, server)
    yield url, first, second, instance, admin_status
    server.terminate()
    server.wait(timeout=30)


def _serve(instance: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "runwsgi"), str(instance / "etc" / "zope.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # not up, or busy starting
            pass
        time.sleep(0.5)
    else:
        server.terminate()
        pytest.fail("demo site did not answer within 90 s")


def test_demo_script_creates_site_staff_and_three_students(demo):
    first = demo[1]
    assert "Created site Plone" in first
    assert first.count("Added student") == 3
    assert "skolskoterska / videomote" in first
    assert "admin / admin" in first


def test_manager_login_works_after_the_first_run(demo):
    assert demo[4] == 200


def test_demo_script_is_idempotent(demo):
    second = demo[2]
    assert "Created site" not in second
    assert "Added student" not in second
    assert "Demo site ready" in second


def test_demo_uses_filestorage_with_blobs(demo):
    instance = demo[3]
    assert (instance / "var" / "filestorage" / "Data.fs").exists()
    assert (instance / "var" / "blobstorage").is_dir()


def test_site_serves_a_themed_swedish_page(demo):
    url = demo[0]
    html = requests.get(url, timeout=30).text
    assert 'lang="sv"' in html
    assert re.search(r"barceloneta[^\"']*\.css", html), "Barceloneta theme is not applied"


def test_staff_sees_the_students_and_anonymous_does_not(demo):
    url = demo[0]
    staff = requests.Session()
    staff.auth = ("skolskoterska", "videomote")
    staff.headers["Accept"] = "application/json"
    listing = staff.get(f"{url}/elever", timeout=30).json()
    titles = sorted(item["title"] for item in listing["items"])
    assert titles == ["Alva Andersson", "Bruno Berg", "Cornelia Carlsson"]
    record = staff.get(listing["items"][0]["@id"], timeout=30)
    assert record.status_code == 200
    anonymous = requests.get(
        listing["items"][0]["@id"], headers={"Accept": "application/json"}, timeout=30
    )
    assert anonymous.status_code == 401


def test_guardian_without_mobile_is_present_to_show_the_refusal_rule(demo):
    url = demo[0]
    staff = requests.Session()
    staff.auth = ("admin", "admin")
    staff.headers["Accept"] = "application/json"
    listing = staff.get(f"{url}/elever", timeout=30).json()
    bruno = next(i for i in listing["items"] if i["title"] == "Bruno Berg")
    guardians = staff.get(bruno["@id"], timeout=30).json()["guardians"]
    assert guardians[0]["primary"] is True
    assert not guardians[0]["mobile"]


def test_staff_complete_and_book_for_records_but_delete_neither_records_nor_meetings(demo):
    """Staff have Editor on the students' folder (to complete contact details): no delete
    right comes with it, for a record, the folder or a meeting; they cancel meetings."""
    url = demo[0]
    staff = requests.Session()
    staff.auth = ("skolskoterska", "videomote")
    staff.headers["Accept"] = "application/json"
    listing = staff.get(f"{url}/elever", timeout=30).json()
    alva = next(i for i in listing["items"] if i["title"] == "Alva Andersson")
    completed = staff.patch(alva["@id"], json={"contact_mobile": "0701234501"}, timeout=30)
    assert completed.status_code == 204, completed.text
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    booked = staff.post(
        f"{url}/@videomote-meetings",
        json={
            "title": "Samtal",
            "start": f"{tomorrow}T09:00",
            "end": f"{tomorrow}T09:30",
            "patient": staff.get(alva["@id"], timeout=30).json()["UID"],
            "contact_choice": "student",
        },
        timeout=30,
    )
    assert booked.status_code == 201, booked.text
    meeting = booked.json()["@id"]
    for address in (meeting, alva["@id"], f"{url}/elever"):
        buttons = staff.get(f"{address}/@actions", timeout=30).json()["object_buttons"]
        # Neither "Ta bort" nor "Klipp ut"/"Byt namn" (which move it out of the folder).
        assert not {"delete", "cut", "rename"} & {b["id"] for b in buttons}, (address, buttons)
        assert staff.delete(address, timeout=30).status_code in (401, 403), address
        assert staff.get(address, timeout=30).status_code == 200, address
    cancelled = staff.delete(f"{meeting}/@videomote-meeting", timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
