"""Uploaded SVG badge images: parsed, compared with an allow-list by namespace, refused when
they hold anything active, and stored as the checked tree re-serialised.

Each hostile file below is one the attacker used or a variant of it: script under any prefix
or as the default namespace, entities, links, animation that rewrites a link, event handlers
in odd case, CSS that loads files, CDATA and processing instructions.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import db
from recognition.images import medal_svg
from recognition.models import Award, Badge
from recognition.svg import SvgRefused, sanitise_svg
from tests.builders import joined, launched, sign_in
from tests.courses.flow import rows, text
from tests.recognition.test_awards import give, user_id
from tests.recognition.test_badges import add, custom_badges

NS = 'xmlns="http://www.w3.org/2000/svg"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
XHTML = "http://www.w3.org/1999/xhtml"


def svg(body: str, attributes: str = "") -> bytes:
    return f'<svg {NS} {XLINK} viewBox="0 0 10 10"{attributes}>{body}</svg>'.encode()


HOSTILE = {
    "namespaced script, prefix h": svg(f'<h:script xmlns:h="{XHTML}">alert(1)</h:script>'),
    "namespaced script, prefix svg": (
        b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></s:svg>'
    ),
    "namespaced script, odd prefix": svg(f'<x:script xmlns:x="{XHTML}">alert(1)</x:script>'),
    "script in another namespace": svg('<q:script xmlns:q="urn:x">alert(1)</q:script>'),
    "default-namespace XHTML script": svg(f'<script xmlns="{XHTML}">alert(1)</script>'),
    "XHTML body with an iframe": svg(
        f'<body xmlns="{XHTML}"><iframe src="https://evil.example/"/></body>'
    ),
    "XHTML img onerror": svg(f'<img xmlns="{XHTML}" src="x" onerror="alert(1)"/>'),
    "script in CDATA": svg("<script><![CDATA[alert(1)]]></script>"),
    "foreignObject": svg(
        f'<foreignObject><div xmlns="{XHTML}"><script>alert(1)</script></div></foreignObject>'
    ),
    "DOCTYPE": b'<!DOCTYPE svg [<!ENTITY x "y">]>' + svg("<text>&x;</text>"),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        + svg("<text>&lol2;</text>")
    ),
    "external entity": (
        b'<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + svg("<text>&xxe;</text>")
    ),
    "bare DOCTYPE": b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">' + svg(""),
    "xlink:href javascript": svg('<a xlink:href="javascript:alert(1)"><circle r="4"/></a>'),
    "image xlink:href javascript": svg('<image xlink:href="javascript:alert(1)"/>'),
    "href with spaces then javascript": svg('<use href=" &#x6A;avascript:alert(1)"/>'),
    "href entity-encoded tab": svg('<use href="java&#9;script:alert(1)"/>'),
    "use href external": svg('<use href="https://evil.example/sprite.svg#icon"/>'),
    "use xlink:href external": svg('<use xlink:href="//evil.example/s.svg#i"/>'),
    "image of another site": svg('<image href="https://evil.example/x.png"/>'),
    "image of an embedded SVG": svg('<image href="data:image/svg+xml;base64,PHN2Zy8+"/>'),
    "set href to javascript": svg(
        '<a href="#x"><set attributeName="href" to="javascript:alert(1)"/><circle r="4"/></a>'
    ),
    "animate xlink:href": svg(
        '<a xlink:href="#x"><animate attributeName="xlink:href" values="javascript:alert(1)"/></a>'
    ),
    "animate onbegin": svg('<animate onbegin="alert(1)" attributeName="x"/>'),
    "onload": svg("", ' onload="alert(1)"'),
    "onLoad odd case": svg("", ' onLoad="alert(1)"'),
    "ONCLICK upper case": svg('<circle r="4" ONCLICK="alert(1)"/>'),
    "namespaced event attribute": svg(f'<circle r="4" h:onclick="alert(1)" xmlns:h="{XHTML}"/>'),
    "style url external": svg(
        '<rect width="4" height="4" style="fill:url(https://evil.example/x)"/>'
    ),
    "style url quoted": svg("<rect style=\"background:url('//evil.example/x')\"/>"),
    "style expression": svg('<rect style="width:expression(alert(1))"/>'),
    "style escape": svg('<rect style="fill:u\\72l(https://evil.example/)"/>'),
    "style element import": svg('<style>@import "https://evil.example/x.css";</style>'),
    "style element url": svg("<style>rect{fill:url(https://evil.example/#a)}</style>"),
    "style element image-set": svg('<style>rect{background:image-set("x.png" 1x)}</style>'),
    "fill url external": svg('<rect width="4" height="4" fill="url(https://evil.example/#g)"/>'),
    "feImage": svg('<filter id="f"><feImage href="https://evil.example/x.png"/></filter>'),
    "iframe element": svg('<iframe src="https://evil.example/"/>'),
    "xml:base": svg('<use xml:base="https://evil.example/" href="#a"/>'),
    "no SVG namespace": b'<svg viewBox="0 0 10 10"><circle r="4"/></svg>',
    "HTML root": f'<html xmlns="{XHTML}"><script>alert(1)</script></html>'.encode(),
    "not XML": b"<svg><circle></svg>",
}


@pytest.mark.parametrize("image", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_trick_is_refused(image):
    with pytest.raises(SvgRefused):
        sanitise_svg(image)


def test_processing_instructions_comments_and_cdata_are_left_out():
    image = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<?xml-stylesheet href="https://evil.example/x.css" type="text/css"?>'
        + svg("<!-- <script>alert(1)</script> --><text><![CDATA[5 < 6 & ok]]></text>")
    )
    cleaned = sanitise_svg(image).decode()
    assert "xml-stylesheet" not in cleaned and "evil.example" not in cleaned
    assert "<!--" not in cleaned and "CDATA" not in cleaned
    assert "<text>5 &lt; 6 &amp; ok</text>" in cleaned


def test_a_drawing_from_an_editor_is_kept_as_a_drawing():
    image = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
        b'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
        b'width="64" height="64" viewBox="0 0 64 64" inkscape:version="1.3">'
        b'<sodipodi:namedview id="view" pagecolor="#fff"/><metadata><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>'
        b'<defs><linearGradient id="g"><stop offset="0" stop-color="#0b5c8c"/></linearGradient>'
        b"<style>.ring{stroke:#1c2430}</style></defs>"
        b'<g inkscape:label="Layer 1"><circle class="ring" cx="32" cy="32" r="30" '
        b'fill="url(#g)" style="stroke-width:2"/><use xlink:href="#g"/>'
        b'<image width="4" height="4" href="data:image/png;base64,iVBORw0KGgo="/>'
        b'<text x="32" y="40" text-anchor="middle">CX</text></g></svg>'
    )
    cleaned = sanitise_svg(image).decode()
    assert cleaned.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    for kept in (
        'fill="url(#g)"',
        'xlink:href="#g"',
        "<style>.ring{stroke:#1c2430}</style>",
        ">CX</text>",
        'stop-color="#0b5c8c"',
        "data:image/png;base64",
    ):
        assert kept in cleaned, kept
    assert "inkscape" not in cleaned and "sodipodi" not in cleaned and "rdf" not in cleaned


def test_the_built_in_medals_pass_unchanged_in_meaning():
    cleaned = sanitise_svg(medal_svg("Customer hero", "kudos")).decode()
    assert 'aria-label="Customer hero"' in cleaned and ">CH</text>" in cleaned


def test_the_attackers_upload_is_refused_and_nothing_is_stored(app, lti, badges):
    sign_in(lti, "trainer")
    response = add(app, lti, image=HOSTILE["namespaced script, prefix h"], filename="h.svg")
    assert response.status_code == 400
    assert "contains script" in text(response)
    assert custom_badges(app) == []


def test_an_upload_is_stored_as_its_checked_tree(app, lti, badges):
    sign_in(lti, "trainer")
    image = svg('<!-- a note --><circle cx="5" cy="5" r="4"/>')
    assert add(app, lti, image=image, filename="dot.svg").status_code == 302
    (badge,) = custom_badges(app)
    assert badge.image == sanitise_svg(image) and b"a note" not in badge.image


def test_a_hostile_image_stored_earlier_is_not_baked_into_credentials(app, lti, badges):
    """An image stored before uploads were parsed: the download carries the credential in a
    plain medal instead of the script."""
    joined(launched(lti, "learner"))
    trainer = launched(lti, "trainer")
    add(app, trainer, name="Sneaky", rule_type="", manager_awardable="y")
    with app.app_context():
        badge = db.session.scalar(select(Badge).where(Badge.name == "Sneaky"))
        badge.image = HOSTILE["namespaced script, prefix h"]
        db.session.commit()
        badge_id = badge.id
        db.session.remove()
    give(trainer, user_id(app, "dev-learner-1"), badge_id, "Good work.")
    (award,) = rows(app, Award)
    baked = app.test_client().get(f"{lti.tool_base}/badges/credentials/{award.public_id}/image")
    assert baked.status_code == 200 and b"script" not in baked.data
    assert baked.mimetype == "image/png"
