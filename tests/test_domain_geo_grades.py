"""Coordinates (rxapp.domain.geo) and grade targets, speeds and breach risk (rxapp.domain.grades)."""
from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from pyproj import Transformer

from rxapp.domain import geo
from rxapp.domain.grades import (
    AT_RISK,
    BOOKED,
    BREACHED,
    OK,
    UNASSIGNED,
    GradeTargets,
    assess_breach,
    target_deadline,
)

UTC = timezone.utc


# --- An independent reference: Ordnance Survey's published formulae -------------------------------------
# From "A guide to coordinate systems in Great Britain" (Ordnance Survey): the inverse transverse Mercator
# on the Airy 1830 ellipsoid (National Grid constants), then the published 7-parameter Helmert
# transformation OSGB36 -> WGS84. Written out here so the test does not just ask pyproj to agree with
# itself.

AIRY_A, AIRY_B = 6377563.396, 6356256.909
WGS_A, WGS_B = 6378137.000, 6356752.3142
F0, PHI0, LAM0, E0, N0 = 0.9996012717, math.radians(49), math.radians(-2), 400000.0, -100000.0


def _os_grid_to_osgb36(easting: float, northing: float) -> tuple[float, float]:
    a, b = AIRY_A, AIRY_B
    e2 = 1 - (b * b) / (a * a)
    n = (a - b) / (a + b)

    def meridional_arc(phi: float) -> float:
        dp, sp = phi - PHI0, phi + PHI0
        return b * F0 * (
            (1 + n + 1.25 * n**2 + 1.25 * n**3) * dp
            - (3 * n + 3 * n**2 + 21 / 8 * n**3) * math.sin(dp) * math.cos(sp)
            + (15 / 8 * n**2 + 15 / 8 * n**3) * math.sin(2 * dp) * math.cos(2 * sp)
            - 35 / 24 * n**3 * math.sin(3 * dp) * math.cos(3 * sp)
        )

    phi, m = PHI0, 0.0
    while True:
        phi = (northing - N0 - m) / (a * F0) + phi
        m = meridional_arc(phi)
        if abs(northing - N0 - m) < 0.00001:
            break
    s = math.sin(phi)
    nu = a * F0 / math.sqrt(1 - e2 * s * s)
    rho = a * F0 * (1 - e2) / (1 - e2 * s * s) ** 1.5
    eta2 = nu / rho - 1
    t = math.tan(phi)
    sec = 1 / math.cos(phi)
    vii = t / (2 * rho * nu)
    viii = t / (24 * rho * nu**3) * (5 + 3 * t**2 + eta2 - 9 * t**2 * eta2)
    ix = t / (720 * rho * nu**5) * (61 + 90 * t**2 + 45 * t**4)
    x = sec / nu
    xi = sec / (6 * nu**3) * (nu / rho + 2 * t**2)
    xii = sec / (120 * nu**5) * (5 + 28 * t**2 + 24 * t**4)
    xiia = sec / (5040 * nu**7) * (61 + 662 * t**2 + 1320 * t**4 + 720 * t**6)
    de = easting - E0
    lat = phi - vii * de**2 + viii * de**4 - ix * de**6
    lon = LAM0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    return lat, lon  # radians


def _os_reference_bng_to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    lat, lon = _os_grid_to_osgb36(easting, northing)
    # Geodetic (OSGB36, height 0) to Cartesian on Airy 1830.
    e2 = 1 - AIRY_B**2 / AIRY_A**2
    nu = AIRY_A / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    x1 = nu * math.cos(lat) * math.cos(lon)
    y1 = nu * math.cos(lat) * math.sin(lon)
    z1 = (1 - e2) * nu * math.sin(lat)
    # OS's published Helmert OSGB36 -> WGS84 (the inverse of their WGS84 -> OSGB36 parameters).
    tx, ty, tz, s = 446.448, -125.157, 542.060, -20.4894e-6
    rx, ry, rz = (math.radians(v / 3600) for v in (0.1502, 0.2470, 0.8421))
    x2 = tx + (1 + s) * x1 - rz * y1 + ry * z1
    y2 = ty + rz * x1 + (1 + s) * y1 - rx * z1
    z2 = tz - ry * x1 + rx * y1 + (1 + s) * z1
    # Cartesian to geodetic on WGS84 (iterative).
    e2w = 1 - WGS_B**2 / WGS_A**2
    p = math.hypot(x2, y2)
    lat2 = math.atan2(z2, p * (1 - e2w))
    for _ in range(10):
        nu2 = WGS_A / math.sqrt(1 - e2w * math.sin(lat2) ** 2)
        lat2 = math.atan2(z2 + e2w * nu2 * math.sin(lat2), p)
    return math.degrees(lat2), math.degrees(math.atan2(y2, x2))


def _dms(d: int, m: int, s: float) -> float:
    return d + m / 60 + s / 3600


def test_reference_formulae_match_the_os_worked_example():
    # OS guide, worked example: E 651409.903, N 313177.270 is 52 39' 27.2531" N, 1 43' 4.5177" E (OSGB36).
    lat, lon = _os_grid_to_osgb36(651409.903, 313177.270)
    assert math.degrees(lat) == pytest.approx(_dms(52, 39, 27.2531), abs=1e-7)
    assert math.degrees(lon) == pytest.approx(_dms(1, 43, 4.5177), abs=1e-7)


ACKLAM_ROAD = (447835, 517445)  # the samples' burglary, Acklam Road, Middlesbrough


@pytest.mark.parametrize("easting,northing", [
    ACKLAM_ROAD,
    (444171, 519678),  # Yarm Lane, Stockton-on-Tees
    (450963, 532647),  # Hartlepool
    (460802, 524944),  # Coatham Road, Redcar
    (530000, 180000),  # central London, far from Cleveland: the transform is not tuned to one place
])
def test_bng_to_wgs84_agrees_with_os_formulae_and_pyproj_default(easting, northing):
    lat, lon = geo.bng_to_wgs84(easting, northing)

    ref = _os_reference_bng_to_wgs84(easting, northing)
    assert geo.distance_m((lat, lon), ref) < 50  # the brief's bound; in practice a few centimetres

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plain = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    plon, plat = plain.transform(easting, northing)
    assert geo.distance_m((lat, lon), (plat, plon)) < 50


def test_acklam_road_is_where_we_think():
    lat, lon = geo.bng_to_wgs84(*ACKLAM_ROAD)
    assert lat == pytest.approx(54.550, abs=0.005)
    assert lon == pytest.approx(-1.262, abs=0.005)


def test_transform_never_uses_the_ballpark_and_says_which_it_uses():
    text = geo.bng_transform_description()
    assert "Ballpark" not in text
    # Offline and without the OSTN15 grid installed we expect the OS Helmert; with it, OSTN15.
    assert ("OSGB36 to WGS 84 (6)" in text) or ("OSTN15" in text) or ("(9)" in text)


def test_grid_detection_looks_only_at_local_files(tmp_path, monkeypatch):
    (tmp_path / "fake_grid.tif").write_bytes(b"")
    monkeypatch.setenv("PROJ_DATA", str(tmp_path))
    assert geo._grid_is_local("fake_grid.tif")
    assert not geo._grid_is_local("missing_grid.tif")


@pytest.mark.parametrize("a,b,expected_m,tolerance_m", [
    ((54.55, -1.262), (54.55, -1.262), 0, 0.001),
    ((54.0, -1.0), (55.0, -1.0), 111_195, 200),           # one degree of latitude on the sphere
    ((54.529752, -1.234013), (54.550003, -1.261992), 2_891, 20),  # sample fix to Acklam Road (geodesic 2,892)
])
def test_distance_m(a, b, expected_m, tolerance_m):
    assert geo.distance_m(a, b) == pytest.approx(expected_m, abs=tolerance_m)


# --- Grade targets -------------------------------------------------------------------------------------

@pytest.mark.parametrize("grade,rural,minutes", [
    ("EMERGENCY", False, 15),
    ("EMERGENCY", True, 20),
    ("PRIORITY", False, 60),
    ("PRIORITY", True, 60),
    ("STANDARD", False, 1440),
    ("SCHEDULED", False, None),
    ("RESOLUTION_WITHOUT_DEPLOYMENT", False, None),
    ("NOT_A_GRADE", False, None),
])
def test_default_targets(grade, rural, minutes):
    assert GradeTargets().target_minutes(grade, rural) == minutes


def test_targets_from_json_override_only_what_is_given():
    t = GradeTargets.from_json('{"EMERGENCY_URBAN": 10, "emergency_rural": 18, "STANDARD": 480, "SCHEDULED": null}')
    assert (t.emergency_urban, t.emergency_rural, t.priority, t.standard, t.scheduled) == (10, 18, 60, 480, None)
    assert GradeTargets.from_mapping(t.as_mapping()) == t
    assert GradeTargets.from_json("{}") == GradeTargets()
    assert GradeTargets.from_json('{"PRIORITY": 45.0}').priority == 45


@pytest.mark.parametrize("raw,message", [
    ("{not json", "not valid JSON"),
    ("[15, 20]", "must be a JSON object"),
    ('{"EMERGENCY": 15}', "unknown key 'EMERGENCY'"),
    ('{"PRIORITY": "60"}', "whole number of minutes"),
    ('{"PRIORITY": 60.5}', "whole number of minutes"),
    ('{"PRIORITY": true}', "whole number of minutes"),
    ('{"PRIORITY": 0}', "between 1 and"),
    ('{"STANDARD": 100000}', "between 1 and"),
    ('{"EMERGENCY_URBAN": null}', "cannot be null"),
])
def test_bad_targets_are_refused_clearly(raw, message):
    with pytest.raises(ValueError, match=message):
        GradeTargets.from_json(raw)


T0 = datetime(2026, 11, 20, 9, 12, tzinfo=UTC)  # winter: London is UTC


@pytest.mark.parametrize("grade,rural,appointment_end,expected", [
    ("EMERGENCY", False, None, T0 + timedelta(minutes=15)),
    ("EMERGENCY", True, None, T0 + timedelta(minutes=20)),
    ("EMERGENCY", False, T0 + timedelta(hours=5), T0 + timedelta(minutes=15)),  # appointment never relaxes it
    ("PRIORITY", False, None, T0 + timedelta(hours=1)),
    ("STANDARD", False, None, T0 + timedelta(hours=24)),
    ("STANDARD", False, T0 + timedelta(hours=30), T0 + timedelta(hours=30)),  # "or by appointment"
    ("SCHEDULED", False, T0 + timedelta(hours=3), T0 + timedelta(hours=3)),
    ("SCHEDULED", False, None, None),
    ("RESOLUTION_WITHOUT_DEPLOYMENT", False, None, None),
])
def test_target_deadline(grade, rural, appointment_end, expected):
    assert target_deadline(grade, T0, rural, appointment_end) == expected


# --- Breach risk ---------------------------------------------------------------------------------------

def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize("case", [
    # Emergency, urban: 15 minutes, deadline 09:27.
    dict(grade="EMERGENCY", now=m(5), assigned=False, expect=(UNASSIGNED, "No officer assigned, 5 of 15 minutes used")),
    dict(grade="EMERGENCY", now=m(12), assigned=False, expect=(AT_RISK, "No officer assigned, 12 of 15 minutes used")),
    dict(grade="EMERGENCY", now=m(5), assigned=True, latest=m(13), expect=(OK, "Predicted arrival by 09:25, target 09:27")),
    dict(grade="EMERGENCY", now=m(5), assigned=True, latest=m(18),
         expect=(AT_RISK, "Predicted arrival 09:30 is after the 09:27 target")),
    dict(grade="EMERGENCY", now=m(4), assigned=True, expect=(OK, "Officer assigned, 4 of 15 minutes used")),
    dict(grade="EMERGENCY", now=m(9), assigned=True,
         expect=(AT_RISK, "Officer assigned but no arrival estimate yet, 9 of 15 minutes used")),
    dict(grade="EMERGENCY", now=m(22), assigned=True, latest=m(25),
         expect=(BREACHED, "Target 09:27 missed by 7 minutes, officer not yet at scene")),
    dict(grade="EMERGENCY", now=m(16), assigned=False, expect=(BREACHED, "Target 09:27 missed by 1 minute, no officer assigned")),
    dict(grade="EMERGENCY", now=m(40), assigned=True, arrived=m(14), expect=(OK, "Arrived 09:26, within the 09:27 target")),
    dict(grade="EMERGENCY", now=m(40), assigned=True, arrived=m(22),
         expect=(BREACHED, "Arrived 09:34, 7 minutes after the 09:27 target")),
    dict(grade="EMERGENCY", rural=True, now=m(16), assigned=True, latest=m(19), expect=(OK, "Predicted arrival by 09:31, target 09:32")),
    # Priority: 60 minutes.
    dict(grade="PRIORITY", now=m(29), assigned=False, expect=(UNASSIGNED, "No officer assigned, 29 of 60 minutes used")),
    dict(grade="PRIORITY", now=m(31), assigned=False, expect=(AT_RISK, "No officer assigned, 31 of 60 minutes used")),
    dict(grade="PRIORITY", now=m(200), assigned=True, latest=m(210),
         expect=(BREACHED, "Target 10:12 missed by 2 h 20 min, officer not yet at scene")),
    # Standard: 24 hours, spoken in hours; a deadline on another day carries the weekday.
    dict(grade="STANDARD", now=m(13 * 60 + 20), assigned=False, expect=(AT_RISK, "No officer assigned, 13 of 24 hours used")),
    dict(grade="STANDARD", now=m(60), assigned=True, latest=m(25 * 60),
         expect=(AT_RISK, "Predicted arrival Sat 10:12 is after the Sat 09:12 target")),
    # Scheduled: the appointment's end is the target.
    dict(grade="SCHEDULED", now=m(30), assigned=False, expect=(OK, "No appointment booked yet")),
    dict(grade="SCHEDULED", now=m(30), assigned=False, appointment_end=m(300),
         expect=(BOOKED, "Booked by 14:12, no officer needed yet")),
    dict(grade="SCHEDULED", now=m(250), assigned=False, appointment_end=m(300),
         expect=(AT_RISK, "Booked by 14:12, ends in 50 minutes, no officer assigned")),
    dict(grade="SCHEDULED", now=m(190), assigned=False, appointment_end=m(300), appointment_start=m(180),
         expect=(AT_RISK, "Booked for 12:12–14:12, window open since 12:12, no officer assigned")),
    dict(grade="SCHEDULED", now=m(301), assigned=True, appointment_end=m(300),
         expect=(BREACHED, "Booked by 14:12: window ended 1 minute ago, officer not yet at scene")),
    dict(grade="RESOLUTION_WITHOUT_DEPLOYMENT", now=m(500), assigned=False,
         expect=(OK, "Being resolved without an officer attending")),
])
def test_assess_breach(case):
    level_reason = assess_breach(
        case["grade"], T0, case["now"], case.get("latest"), assigned=case["assigned"],
        arrived_at=case.get("arrived"), rural=case.get("rural", False), appointment_end=case.get("appointment_end"),
        appointment_start=case.get("appointment_start"),
    )
    assert level_reason == case["expect"]


def test_assess_breach_uses_configured_targets_and_london_time_in_summer():
    summer = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # 10:00 in London (BST)
    targets = GradeTargets.from_json('{"EMERGENCY_URBAN": 10}')
    level, reason = assess_breach("EMERGENCY", summer, summer + timedelta(minutes=3), summer + timedelta(minutes=12),
                                  assigned=True, arrived_at=None, rural=False, targets=targets)
    assert (level, reason) == (AT_RISK, "Predicted arrival 10:12 is after the 10:10 target")
