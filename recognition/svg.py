"""Uploaded SVG badge images, checked by parsing them and rebuilt from what was checked.

An SVG is a document that can run script, so a pattern search on its text is not enough: the
attacker's ``<h:script xmlns:h="http://www.w3.org/1999/xhtml">`` is script to a browser but
not ``<script`` to a regular expression. Here the file is parsed as XML (defusedxml: no
DOCTYPE, no entities, nothing fetched), every element and attribute is compared, by namespace,
with an allow-list of what flat drawings use, and anything else is **refused** with its name,
so the trainer knows what to remove. What is stored is not the upload but the tree
re-serialised, so a browser reads exactly what was checked (comments, processing
instructions, CDATA sections and the editor's own markup are left out).

Refused rather than silently stripped: a badge that quietly lost part of its drawing, or its
script, would hide from the trainer that the file was not what they thought.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"
# Drawing programs' own bookkeeping (layers, guides, export settings): no effect on the image,
# so it is left out rather than refused.
EDITOR_NAMESPACES = frozenset(
    {
        "http://www.inkscape.org/namespaces/inkscape",
        "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
        "http://ns.adobe.com/AdobeIllustrator/10.0/",
        "http://ns.adobe.com/Extensibility/1.0/",
        "http://ns.adobe.com/Graphs/1.0/",
        "http://ns.adobe.com/AdobeSVGViewerExtensions/3.0/",
        "http://www.bohemiancoding.com/sketch/ns",
    }
)
DROPPED_ELEMENTS = frozenset({"metadata"})  # RDF licence blocks and the like

ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "symbol",
        "use",
        "title",
        "desc",
        "style",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "textPath",
        "image",
        "linearGradient",
        "radialGradient",
        "stop",
        "pattern",
        "clipPath",
        "mask",
        "marker",
        "filter",
        "feBlend",
        "feColorMatrix",
        "feComponentTransfer",
        "feComposite",
        "feConvolveMatrix",
        "feDiffuseLighting",
        "feDisplacementMap",
        "feDistantLight",
        "feDropShadow",
        "feFlood",
        "feFuncA",
        "feFuncB",
        "feFuncG",
        "feFuncR",
        "feGaussianBlur",
        "feMerge",
        "feMergeNode",
        "feMorphology",
        "feOffset",
        "fePointLight",
        "feSpecularLighting",
        "feSpotLight",
        "feTile",
        "feTurbulence",
    }
)

# Attributes without a namespace, as SVG writes them. No ``on*`` event handler, no ``href``
# here (checked on its own below), nothing that animates or links.
ATTRIBUTES = frozenset(
    {
        "id",
        "class",
        "style",
        "lang",
        "tabindex",
        "role",
        "focusable",
        "aria-label",
        "aria-labelledby",
        "aria-describedby",
        "aria-hidden",
        "version",
        "baseProfile",
        "viewBox",
        "preserveAspectRatio",
        "x",
        "y",
        "width",
        "height",
        "transform",
        "d",
        "points",
        "pathLength",
        "cx",
        "cy",
        "r",
        "rx",
        "ry",
        "fx",
        "fy",
        "fr",
        "x1",
        "y1",
        "x2",
        "y2",
        "dx",
        "dy",
        "rotate",
        "textLength",
        "lengthAdjust",
        "startOffset",
        "method",
        "spacing",
        "side",
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-opacity",
        "opacity",
        "color",
        "display",
        "visibility",
        "overflow",
        "clip",
        "clip-path",
        "clip-rule",
        "mask",
        "filter",
        "paint-order",
        "vector-effect",
        "shape-rendering",
        "text-rendering",
        "image-rendering",
        "color-interpolation",
        "color-interpolation-filters",
        "color-rendering",
        "mix-blend-mode",
        "isolation",
        "font-family",
        "font-size",
        "font-size-adjust",
        "font-stretch",
        "font-style",
        "font-variant",
        "font-weight",
        "font",
        "text-anchor",
        "dominant-baseline",
        "alignment-baseline",
        "baseline-shift",
        "letter-spacing",
        "word-spacing",
        "text-decoration",
        "writing-mode",
        "direction",
        "unicode-bidi",
        "offset",
        "stop-color",
        "stop-opacity",
        "gradientUnits",
        "gradientTransform",
        "spreadMethod",
        "patternUnits",
        "patternContentUnits",
        "patternTransform",
        "clipPathUnits",
        "maskUnits",
        "maskContentUnits",
        "filterUnits",
        "primitiveUnits",
        "markerWidth",
        "markerHeight",
        "markerUnits",
        "refX",
        "refY",
        "orient",
        "marker-start",
        "marker-mid",
        "marker-end",
        "in",
        "in2",
        "result",
        "stdDeviation",
        "mode",
        "operator",
        "k1",
        "k2",
        "k3",
        "k4",
        "values",
        "type",
        "tableValues",
        "slope",
        "intercept",
        "amplitude",
        "exponent",
        "flood-color",
        "flood-opacity",
        "lighting-color",
        "baseFrequency",
        "numOctaves",
        "seed",
        "stitchTiles",
        "scale",
        "xChannelSelector",
        "yChannelSelector",
        "radius",
        "order",
        "kernelMatrix",
        "divisor",
        "bias",
        "targetX",
        "targetY",
        "edgeMode",
        "preserveAlpha",
        "surfaceScale",
        "specularConstant",
        "specularExponent",
        "diffuseConstant",
        "kernelUnitLength",
        "azimuth",
        "elevation",
        "z",
        "pointsAtX",
        "pointsAtY",
        "pointsAtZ",
        "limitingConeAngle",
        "media",
    }
)
HREF_ATTRIBUTES = frozenset({"href", f"{{{XLINK}}}href"})
OTHER_ATTRIBUTES = frozenset(
    {
        f"{{{XML}}}space",
        f"{{{XML}}}lang",
        f"{{{XLINK}}}title",
        f"{{{XLINK}}}type",
    }
)
# An embedded raster picture is allowed (editors embed them); an embedded SVG is not, since
# it would need the same checks again.
DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*", re.I)
FRAGMENT = re.compile(r"#[\w.:-]+")
# What the browser ignores in a URL or CSS value before reading it.
_IGNORED = re.compile(r"[\x00-\x20\x7f]")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
# Besides url(): image-set("…") and @font-face's src load files too; a backslash is a CSS
# escape, which could spell any of these.
_CSS_FORBIDDEN = re.compile(
    r"@import|@namespace|@font-face|image-set|expression|javascript:|behavior|binding|\\", re.I
)
MAX_DEPTH = 64
MAX_ELEMENTS = 20_000


class SvgRefused(ValueError):
    """The SVG is refused; the message says what to remove."""


def _name(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag or attribute name."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _shown(tag: str) -> str:
    namespace, local = _name(tag)
    return f"{local} (namespace {namespace})" if namespace and namespace != SVG else local


def _check_css(text: str, where: str) -> None:
    css = _CSS_COMMENT.sub("", text)
    if _CSS_FORBIDDEN.search(css):
        raise SvgRefused(
            f"The SVG's {where} has style rules that load or run something (@import, "
            "expression, script or escapes); badge images must be self-contained drawings."
        )
    for match in _CSS_URL.finditer(css):
        if not FRAGMENT.fullmatch(_IGNORED.sub("", match.group(2))):
            raise SvgRefused(
                f"The SVG's {where} links to other files ({match.group(2)[:60]}); badge images "
                "must be self-contained drawings."
            )
    if "url(" in css.lower().replace(" ", "") and not _CSS_URL.search(css):
        raise SvgRefused(f"The SVG's {where} has a malformed url(); draw without it.")


def _check_href(element: str, value: str) -> None:
    target = _IGNORED.sub("", value)
    if FRAGMENT.fullmatch(target):
        return
    if element == "image" and DATA_IMAGE.fullmatch(value.strip()):
        return
    raise SvgRefused(
        f"The SVG links to other files ({value[:60]}); badge images must be self-contained "
        "drawings (links within the drawing, #name, and embedded PNG/JPEG pictures are fine)."
    )


def _check_attribute(element: str, name: str, value: str) -> bool:
    """Whether to keep the attribute; ``SvgRefused`` when it may not be there at all."""
    namespace, local = _name(name)
    if namespace in EDITOR_NAMESPACES:
        return False
    if local.lower().startswith("on"):
        raise SvgRefused(
            f"The SVG has event handlers ({local}); badge images must be plain drawings."
        )
    if name in HREF_ATTRIBUTES:
        _check_href(element, value)
        return True
    if name not in ATTRIBUTES and name not in OTHER_ATTRIBUTES:
        raise SvgRefused(
            f"The SVG has the attribute {_shown(name)} on <{element}>, which badge images may "
            "not use."
        )
    if name == "style":
        _check_css(value, "style attribute")
    elif "url(" in value.lower() or "javascript" in value.lower():
        _check_css(value, f"{local} attribute")
    return True


def _check_element(element: ET.Element) -> bool:
    """Whether to keep the element (with what it contains); ``SvgRefused`` for one that
    may not be there at all."""
    namespace, local = _name(element.tag)
    if namespace in EDITOR_NAMESPACES or (namespace == SVG and local in DROPPED_ELEMENTS):
        return False
    if local.lower() == "script":
        raise SvgRefused(
            f"The SVG contains script ({_shown(element.tag)}); badge images must be plain drawings."
        )
    if namespace != SVG or local not in ELEMENTS:
        raise SvgRefused(
            f"The SVG contains <{_shown(element.tag)}>, which badge images may not use "
            "(no script, embedded pages, animation or links)."
        )
    for name, value in list(element.attrib.items()):
        if not _check_attribute(local, name, value):
            del element.attrib[name]
    if local == "style":
        _check_css(element.text or "", "<style> element")
    return True


def _remove_keeping_tail(parent: ET.Element, child: ET.Element) -> None:
    """Leave ``child`` out; the text after it belongs to what came before it."""
    if child.tail:
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def sanitise_svg(data: bytes) -> bytes:
    """The SVG rebuilt from its checked tree, or ``SvgRefused`` with the reason."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise SvgRefused(
            "The SVG declares a DOCTYPE or entities; badge images must be plain drawings."
        ) from error
    except ET.ParseError as error:
        raise SvgRefused(f"The SVG is not well-formed XML ({error}).") from error
    if root.tag != f"{{{SVG}}}svg":
        raise SvgRefused(
            'This is not an SVG image: its root must be <svg xmlns="http://www.w3.org/2000/svg">.'
        )
    # Walked without recursion, and bounded, so a deeply nested file cannot exhaust the stack
    # here or in the serialiser.
    count = 0
    pending: list[tuple[ET.Element, int]] = [(root, 0)]
    if not _check_element(root):
        raise SvgRefused("This is not an SVG image.")
    while pending:
        parent, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise SvgRefused("The SVG is nested too deeply for a badge image.")
        for child in list(parent):
            count += 1
            if count > MAX_ELEMENTS:
                raise SvgRefused("The SVG has too many elements for a badge image.")
            if _check_element(child):
                pending.append((child, depth + 1))
            else:
                _remove_keeping_tail(parent, child)
    return _serialise(root)


_PREFIXES = {"": "", XLINK: "xlink:", XML: "xml:"}


def _attributes(element: ET.Element, root: bool) -> str:
    written = [f' xmlns="{SVG}" xmlns:xlink="{XLINK}"'] if root else []
    for name, value in element.attrib.items():
        namespace, local = _name(name)
        written.append(f' {_PREFIXES[namespace]}{local}="{escape(value, quote=True)}"')
    return "".join(written)


def _serialise(root: ET.Element) -> bytes:
    """The checked tree as text: SVG as the default namespace, ``xlink:`` and ``xml:`` as
    their usual prefixes (only those can remain), written without recursion."""
    out: list[str] = []
    # (element, True) opens an element; (element, False) closes it and writes its tail.
    stack: list[tuple[ET.Element, bool]] = [(root, True)]
    while stack:
        element, opening = stack.pop()
        local = _name(element.tag)[1]
        if opening:
            out.append(f"<{local}{_attributes(element, element is root)}")
            if element.text or len(element):
                out.append(">" + escape(element.text or "", quote=False))
                stack.append((element, False))
                stack.extend((child, True) for child in reversed(element))
            else:
                out.append("/>")
                if element.tail and element is not root:
                    out.append(escape(element.tail, quote=False))
            continue
        out.append(f"</{local}>")
        if element.tail and element is not root:
            out.append(escape(element.tail, quote=False))
    return "".join(out).encode()
