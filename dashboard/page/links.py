"""Shareable links: the lesson, every sidebar setting, the open tab and presentation mode live in the URL.

    ?lesson=temperature&temperature=8&lam=0.3&seed=3&tab=probabilities
    ?lesson=little-data&show=temperature,lam    (a lesson link with only those controls: the rest keep its values)
    ?lesson=little-data&hide=lr,batch_size&present=1
    ?tab=methods&methods=dkd,kd-matched         (the Methods tab's picks, when not all of them)
    ?lesson=capacity-gap&seed=3                 (a finding after Hinton: its arms are fixed, its first seed is not)

A setting's parameter is its ``kd-train`` flag without the dashes, inner dashes as underscores (``--batch-size``
-> ``batch_size``; ``batch-size`` is read too).  The page writes only the settings that differ from the lesson's,
so a link is short and says what was changed.  A value the page cannot use (out of range, not an option, not a
number) is left out with a one-line note; the link never carries the browser's id (that is in a cookie).

Read once per session (a reload is a new session, so it reads the URL again), before the widgets are drawn;
written at the end of every full script run, so the address bar follows every control.

The link to share starts with the address the students can reach: the teacher's browser often says 127.0.0.1
(the server's own computer), which on a student's computer is the student's.  When the server listens on every
interface (``server.address`` 0.0.0.0 or unset), the share box offers the server's address on the local network.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from dashboard.page import choices, sidebar
from dashboard.runs import distill as runs
from kd_core import DATASETS
from kd_core.methods.registry import COMPARED, KD_VARIANTS
from kd_core.models.architectures import ARCHITECTURES

state = st.session_state
PAGE_KEYS = ("lesson", "tab", "show", "hide", "present", "methods")
METHOD_PICKS = [name for name in COMPARED if name != "kd"]  # the Methods tab's choices (KD is always run)
FINDING_CONTROLS = ("seed",)  # a finding after Hinton fixes its arms: a link can move its first seed only
INTEGERS = ("student_width", "epochs", "teacher_epochs", "batch_size", "seed", "seeds")


def slug(label: str) -> str:
    """A tab's label as a URL word: "T & λ sweep" -> "t-λ-sweep", "Little data" -> "little-data"."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def parse(field: str, text: str, dataset: str):
    """The control's value for ``text``; ValueError (with the reason, in words) when the page cannot use it."""
    text = text.strip()
    if field == "dataset":
        allowed = runs.dataset_names()
    elif field in ("teacher", "student"):
        allowed = list(ARCHITECTURES)
    elif field == "loss":
        allowed = list(KD_VARIANTS)
    elif field == "omit_class":
        if text.lower() in ("", "none"):
            return None
        allowed = list(range(DATASETS[dataset].num_classes))
    else:
        allowed = None
    if allowed is not None:
        value = int(text) if field == "omit_class" and text.lstrip("-").isdigit() else text
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(map(str, allowed))}")
        return value
    try:
        number = float(text.rstrip("%")) / 100 if field == "student_fraction" and text.endswith("%") else float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if number != number:  # nan
        raise ValueError("not a number")
    if field in choices.STEPS:
        options = choices.STEPS[field]
        near = min(options, key=lambda option: abs(option - number))
        if abs(near - number) > 1e-9 * max(1.0, abs(number)):
            raise ValueError(
                f"not one of the slider's values ({', '.join(choices.format_value(field, o) for o in options)})"
            )
        return near
    low, high, step = choices.SLIDERS[field]
    if not low <= number <= high:
        raise ValueError(f"outside {low:g} to {high:g}")
    snapped = low + round((number - low) / step) * step  # onto the slider's steps
    return int(round(snapped)) if field in INTEGERS else round(snapped, 6)


def names(text: str) -> tuple[list[str], list[str]]:
    """A comma list of controls (``lr,batch_size``): the known ones, and the unknown words."""
    words = [w.strip().replace("-", "_") for w in text.split(",") if w.strip()]
    return [w for w in words if w in choices.ALL_CONTROLS], [w for w in words if w not in choices.ALL_CONTROLS]


def read_once() -> None:
    """On a session's first run: the URL's lesson, then its settings over the lesson's, its tab, the controls it
    hides and presentation mode.  What cannot be used goes into ``state["link_notes"]``."""
    if state.get("link_read"):
        return
    state["link_read"] = True
    params = {key.replace("-", "_"): st.query_params[key] for key in st.query_params}
    notes = []
    lesson = params.pop("lesson", sidebar.FIRST_LESSON)
    if lesson not in sidebar.lesson_names():
        notes.append(f"lesson={lesson}: no such lesson (there are {', '.join(sidebar.lesson_names())})")
        lesson = sidebar.FIRST_LESSON
    sidebar.choose_lesson(lesson)
    for field in [f for f in choices.ALL_CONTROLS if f in params]:  # in order: the dataset before its architectures
        text = params.pop(field)
        if sidebar.group_of(lesson) == sidebar.AFTER_HINTON and field not in FINDING_CONTROLS:
            notes.append(f"{field}={text}: the finding {lesson} runs its own fixed arms (only its seed can be chosen)")
            continue
        try:
            state[field] = parse(field, text, state["dataset"])
        except ValueError as error:
            notes.append(f"{field}={text}: {error}")
            continue
        if field == "dataset":  # a dataset brings its own architectures
            state["teacher"], state["student"] = runs.default_pair(state["dataset"])
        if field in ("dataset", "student"):  # and a student its own width (a width in the link comes after)
            state["student_width"] = ARCHITECTURES[state["student"]].width
    state["link_tab"] = params.pop("tab", None)  # checked against the tabs once they are known (choose_tab)
    for key in ("show", "hide"):
        if key in params:
            known, unknown = names(params.pop(key))
            if unknown:
                notes.append(f"{key}: no control called {', '.join(unknown)}")
            if known:
                state["hide"] = [f for f in choices.ALL_CONTROLS if (f not in known if key == "show" else f in known)]
                state["link_" + key] = known
    state["present"] = params.pop("present", "0").lower() in ("1", "true", "yes", "on")
    if "methods" in params:
        words = [w.strip() for w in params.pop("methods").split(",") if w.strip()]
        if [w for w in words if w not in METHOD_PICKS]:
            notes.append(f"methods: no method called {', '.join(w for w in words if w not in METHOD_PICKS)}")
        state["methods_picked"] = [name for name in METHOD_PICKS if name in words]
    notes += [f"{key}: not a setting of this page" for key in params if key not in ("embed", "embed_options")]
    state["link_notes"] = notes


def choose_tab(labels: list[str]) -> None:
    """Open the tab the link names (once), or note that there is no such tab."""
    wanted = state.pop("link_tab", None)
    slugs = {slug(label): label for label in labels}
    if wanted in slugs:
        state["tab"] = slugs[wanted]
    elif wanted is not None:
        state["link_notes"] = [
            *state.get("link_notes", []),
            f"tab={wanted}: no such tab (there are {', '.join(slugs)})",
        ]


def notes() -> None:
    """What the link asked for that the page could not use, in one line (never a traceback)."""
    if state.get("link_notes"):
        st.warning(
            "This link had settings the page cannot use, so they were left out: " + "; ".join(state["link_notes"]) + "."
        )


def params(config_values: dict, lesson: str, tab: str | None, first_tab: str, present: bool) -> dict[str, str]:
    """The query parameters for these settings: the lesson, what differs from it, the tab unless it is the first."""
    base = sidebar.settings_of(lesson)
    out = {"lesson": lesson}
    for field in choices.ALL_CONTROLS:
        if field in config_values and config_values[field] != base[field]:
            out[field] = choices.format_value(field, config_values[field])
    if tab and tab != first_tab:
        out["tab"] = slug(tab)
    for key in ("show", "hide"):
        if state.get("link_" + key):
            out[key] = ",".join(state["link_" + key])
    if present:
        out["present"] = "1"
    picked = state.get("methods_picked")
    if picked is not None and list(picked) != METHOD_PICKS:
        out["methods"] = ",".join(picked)
    return out


def current_values() -> dict:
    return {field: state.get(field) for field in choices.ALL_CONTROLS}


def write(first_tab: str) -> dict[str, str]:
    """Make the address bar show the page's settings now (only when they changed: each write is a message)."""
    wanted = params(
        current_values(),
        state.get("lesson", sidebar.FIRST_LESSON),
        state.get("tab"),
        first_tab,
        bool(state.get("present")),
    )
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    return wanted


class ShareBase(NamedTuple):
    """Where a shared link starts, and what to tell the teacher about it."""

    students: str | None  # the address to give students (None: no address of this server can reach them)
    own: str  # the browser's own address (works on this computer)
    note: str


def loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:  # a host name (or nothing)
        return False


def lan_address() -> str | None:
    """This computer's address on the local network, found without the internet: connecting a UDP socket sends
    nothing but picks the interface a packet to a private address would leave by; else the host name's address."""
    for probe in ("10.255.255.255", "192.168.255.255", "172.16.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                address = udp.getsockname()[0]
        except OSError:
            continue
        if address and not loopback(address) and address != "0.0.0.0":
            return address
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return None if loopback(address) else address


def share_base(browser_url: str, listen: str | None, port: int, lan: str | None) -> ShareBase:
    """Which address students should get, from the browser's URL, the server's ``server.address`` option, its
    port and its LAN address (pure: the page passes what it read)."""
    parts = urlsplit(browser_url)
    own = browser_url
    if not loopback(parts.hostname):  # the teacher reached the server by a name the room can use too
        return ShareBase(own, own, "Give students this link: it is the address your own browser uses.")

    def at(host: str) -> str:
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return urlunsplit((parts.scheme or "http", netloc, parts.path, "", ""))

    listen = (listen or "").strip()
    if listen in ("", "0.0.0.0", "::"):  # every interface: the LAN address reaches this server
        if lan:
            return ShareBase(
                at(lan),
                own,
                f"Give students the first link ({lan} is this computer on the local "
                "network); the second works only on this computer.",
            )
        return ShareBase(
            None,
            own,
            "This computer has no address on a local network that could be found, so only "
            "this computer can open the link.",
        )
    if not loopback(listen):  # one chosen interface
        return ShareBase(
            at(listen),
            own,
            f"Give students the first link (the server listens on {listen}); the second works only on this computer.",
        )
    return ShareBase(
        None,
        own,
        "This server listens only on this computer, so students' computers cannot open the link. "
        "To serve a class, start it with make run ADDRESS=0.0.0.0 (every network interface).",
    )


def server_share_base(browser_url: str) -> ShareBase:
    """``share_base`` for this server: its ``server.address`` and ``server.port`` options and its LAN address."""
    listen = st.get_option("server.address")
    lan = lan_address() if (listen or "").strip() in ("", "0.0.0.0", "::") else None
    return share_base(browser_url, listen, int(st.get_option("server.port")), lan)


def share(wanted: dict[str, str]) -> None:
    """The link to these settings, with a copy button; optionally one that shows only the lesson's controls."""
    with st.sidebar.expander("Share these settings"):
        only = st.toggle(
            "Show only this lesson's controls",
            key="share_lesson_controls",
            help="The link hides the other controls; they keep the lesson's values.",
        )
        link = dict(wanted)
        if only:
            link.pop("hide", None)
            link["show"] = ",".join(sidebar.key_controls())
        query = urlencode(link, safe=",")
        base = server_share_base(st.context.url or "")
        if base.students and base.students != base.own:
            st.markdown("**For students:**")
            st.code(f"{base.students}?{query}", language=None, wrap_lines=True)
            st.markdown("**On this computer:**")
        st.code(f"{base.own}?{query}", language=None, wrap_lines=True)
        st.caption(base.note)
        st.caption(
            "The link holds the lesson, the settings and the tab — not your runs. Copy it with the button at its right."
        )
