"""The rehearsal's report arithmetic (bench/rehearsal_report.py), its judges' counting of what
was lost or doubled (bench/rehearsal_judges.py) and the brains' bookkeeping
(bench/rehearsal_brains.py): the suite's log lines read into counts, what was sent checked
against what arrived, doubles found, a night's verdict and report. Fast: plain text and
dictionaries, no tmux, no agent."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(SUITE / "bench"), str(SUITE / "tests" / "e2e")]

import bench_setup  # noqa: E402
import rehearsal_judges as judges  # noqa: E402
import rehearsal_report as rr  # noqa: E402
from fake_anthropic_api import ErrorReply, ScriptedToolUse  # noqa: E402
from rehearsal_brains import Brain, Ledger, OrchestratorBrain, Team, tokens_in  # noqa: E402

from orc.core.state import log_event  # noqa: E402

DELIVERY_LOG = """\
2026-11-26T13:05:34+00:00 brief target=%0 pane=%0 bytes=819 result=submitted state=idle enters=1 elapsed=0.62s reason="submitted (agent busy)"
2026-11-26T13:05:35+00:00 send target=alpha:Dev1 pane=%1 bytes=135 result=submitted state=busy enters=1 elapsed=1.10s reason="submitted (agent busy)"
2026-11-26T13:06:35+00:00 checkin target=alpha:1.0 pane=%1 bytes=88 result=submitted state=idle enters=1 elapsed=0.44s reason="submitted (agent busy)"
2026-11-26T13:06:39+00:00 send target=alpha:Dev2 pane=%2 bytes=135 result=not-submitted state=waiting enters=0 elapsed=0.01s reason="a dialog is showing (an Enter would answer it); nothing typed"
2026-11-26T13:06:40+00:00 checkin target=alpha:2.0 pane=%2 bytes=88 result=not-submitted state=waiting enters=0 elapsed=0.01s reason="a dialog is showing (an Enter would answer it); nothing typed"
not a log line
"""

CHECKINS_LOG = """\
2026-11-26T13:06:35+00:00 scheduled id=ck-97028636 due=2026-11-26T13:07:35+00:00 target=alpha:1.0 note="alpha-dev1: check-in"
2026-11-26T13:06:39+00:00 scheduled id=ck-1644b066 due=2026-11-26T13:07:39+00:00 target=alpha:0.0 note="alpha-pm: check-in"
2026-11-26T13:07:35+00:00 fired id=ck-97028636 by=schedule lag=0s attempt=1
2026-11-26T13:07:36+00:00 delivered id=ck-97028636 target=alpha:1.0 pane=%1 lag=1.0s
2026-11-26T13:07:39+00:00 fired id=ck-1644b066 by=schedule lag=0s attempt=1
2026-11-26T13:07:39+00:00 deferred id=ck-1644b066 target=alpha:0.0 reason="a dialog is showing" retry=x give_up=y
2026-11-26T13:10:01+00:00 fired id=ck-1644b066 by=sweep lag=142s attempt=2
2026-11-26T13:10:01+00:00 late id=ck-1644b066 by=2m22s due=2026-11-26T13:07:39+00:00
2026-11-26T13:10:02+00:00 delivered id=ck-1644b066 target=alpha:0.0 pane=%0 lag=143.0s
2026-11-26T13:10:36+00:00 delivered id=ck-0c04121a target=alpha:PM pane=%0 lag=0.5s
2026-11-26T13:10:36+00:00 rearmed id=ck-0c04121a due=2026-11-26T13:15:35+00:00
2026-11-26T13:15:36+00:00 delivered id=ck-0c04121a target=alpha:PM pane=%0 lag=0.5s
"""


def test_log_lines_parse_like_the_suite_writes_them(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log_event(log, "send", target="a:b", reason='a "quoted" reason; with spaces', result="submitted")
    (line,) = rr.parse_log(log.read_text())
    assert line.event == "send"
    assert line.fields == {"target": "a:b", "reason": 'a "quoted" reason; with spaces', "result": "submitted"}


def test_delivery_counts_split_submitted_and_refused_by_kind() -> None:
    counts = rr.delivery_counts(DELIVERY_LOG)
    assert (counts.attempts, counts.submitted, counts.refused) == (5, 3, 2)
    assert counts.by_kind == {"brief": (1, 0), "send": (1, 1), "checkin": (1, 1)}
    assert counts.refusal_reasons == {"a dialog is showing (an Enter would answer it)": 2}


def test_checkin_counts_and_lag_percentiles() -> None:
    counts = rr.checkin_counts(CHECKINS_LOG)
    assert (counts.scheduled, counts.delivered, counts.late, counts.deferred, counts.failed) == (2, 4, 1, 1, 0)
    assert sorted(counts.lags) == [0.5, 0.5, 1.0, 143.0]
    assert counts.lag(50) == 0.5
    assert counts.lag(90) == 143.0
    assert counts.delivered_tokens == Counter({"ck-97028636": 1, "ck-1644b066": 1, "ck-0c04121a": 2})


def test_percentile_nearest_rank() -> None:
    """One percentile for the report and every benchmark (bench/bench_setup.py)."""
    assert rr.percentile is bench_setup.percentile
    assert bench_setup.percentile([], 50) is None
    assert bench_setup.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert bench_setup.percentile([float(n) for n in range(1, 101)], 90) == 90.0
    assert bench_setup.percentile([float(n) for n in range(1, 101)], 99) == 99.0
    assert bench_setup.percentile([float(n) for n in range(1, 22)], 90) == 19.0   # rank ceil(0.9 * 21)


def test_crosscheck_finds_lost_doubled_and_refused() -> None:
    sent = {
        "m-pm-1": {"to": "dev1", "rc": 0},   # proven, arrived once: fine
        "m-pm-2": {"to": "dev2", "rc": 0},   # proven, never arrived: lost
        "m-pm-3": {"to": "dev2", "rc": 1},   # refused, never arrived: the sender knew
        "m-pm-4": {"to": "dev1", "rc": 0},   # arrived twice: doubled
        "m-pm-5": {"to": "dev1", "rc": 1},   # refused, yet arrived: reported
        "m-pm-6": {"to": "dev1", "rc": 4},   # kept, then arrived once: fine
        "m-pm-7": {"to": "dev2", "rc": 4},   # kept, never arrived: lost
    }
    received = Counter({("dev1", "m-pm-1"): 1, ("dev1", "m-pm-4"): 2, ("dev1", "m-pm-5"): 1, ("dev1", "m-pm-6"): 1,
                        ("dev1", "ck-aaaa1111@13:07:35"): 1,
                        ("pm", "ck-bbbb2222@13:10:35"): 1, ("pm", "ck-bbbb2222@13:15:35"): 1,
                        ("pm", "ck-cccc3333@13:20:00"): 1, ("dev2", "ck-cccc3333@13:20:00"): 1})
    delivered = Counter({"ck-aaaa1111": 1, "ck-bbbb2222": 3, "ck-cccc3333": 1, "ck-dddd4444": 1})
    cross = judges.crosscheck(sent, received, delivered)
    assert cross.lost == ["m-pm-2", "m-pm-7 (kept, never delivered)", "ck-bbbb2222 (delivered 3x, arrived 2x)",
                          "ck-dddd4444 (delivered 1x, arrived 0x)"]
    assert cross.kept == ["m-pm-6", "m-pm-7"]
    assert cross.doubled == ["m-pm-4 to dev1 x2", "ck-cccc3333@13:20:00 to dev2, pm"]
    assert cross.refused == ["m-pm-3", "m-pm-5"]
    assert cross.received_unproven == ["m-pm-5"]


def test_nothing_lost_or_doubled_when_all_arrived_once() -> None:
    cross = judges.crosscheck({"m-a-1": {"to": "b", "rc": 0}}, Counter({("b", "m-a-1"): 1, ("b", "ck-1@10:00:00"): 1}),
                          Counter({"ck-1": 1}))
    assert (cross.lost, cross.doubled, cross.refused) == ([], [], [])


def a_night(**changes: object) -> rr.Night:
    """A finished night as the run gathers it: one message proven submitted and received once,
    the check-ins of CHECKINS_LOG each arrived once, one fault survived; ``changes`` spoil it."""
    fields: dict[str, object] = dict(
        minutes=3.0, work=Path("/work/night"), cron_ours=True, started_at=0.0, lock_wait=2.0, loads=[0.5, 1.5],
        available={"finish": True, "spawn": False, "up": False, "attention": True},
        logs={**{name: "" for name in rr.LOGS}, "delivery.log": DELIVERY_LOG, "checkins.log": CHECKINS_LOG},
        sent={"m-alpha-pm-1": {"from": "alpha-pm", "to": "alpha-dev1", "rc": 0, "at": 0.0}},
        received=Counter({("alpha-dev1", "m-alpha-pm-1"): 1, ("alpha-dev1", "ck-97028636@13:07:35"): 1,
                          ("alpha-pm", "ck-1644b066@13:07:39"): 1, ("alpha-pm", "ck-0c04121a@13:10:35"): 1,
                          ("alpha-pm", "ck-0c04121a@13:15:35"): 1}),
        pending=[("ck-eeee5555", datetime(2026, 11, 26, 13, 30, tzinfo=timezone.utc))],
        now=datetime(2026, 11, 26, 13, 30, 30, tzinfo=timezone.utc).timestamp(),
        notified=[], commits={"alpha": "3", "beta": "2"}, orchestrator=None, orchestrator_target="orc:Orchestrator",
        orchestrator_checkin_minutes=5, up_runs=[], spawn_tried=False, growth=[], grown=None,
        faults=[rr.Fault("agent killed", 18.0, "SIGKILL", injected="killed", survived=True)],
        states={"alpha-pm": [(0.0, "idle")]}, notes=[],
    )
    fields.update(changes)
    return rr.Night(**fields)  # type: ignore[arg-type]


def test_a_night_with_nothing_lost_and_every_fault_survived_passes() -> None:
    night = a_night()
    verdict = judges.judge_night(night)
    assert (verdict.lost, verdict.doubled, verdict.overdue, verdict.ok) == ([], [], 0, True)
    report = rr.report_text(night, verdict)
    assert report.splitlines()[-1] == "RESULT: PASS: 0 lost, 0 doubled, 0 check-ins failed, faults survived 1/1 (0 skipped)"
    assert "still pending at the end: 1 (not yet due: 1; past due by more than a minute: 0)" in report
    assert "- agent killed (SIGKILL): survived" in report


def test_a_night_fails_for_a_lost_message_an_overdue_check_in_or_a_fault_not_survived() -> None:
    lost_message = a_night(received=Counter({k: v for k, v in a_night().received.items() if k[1] != "m-alpha-pm-1"}))
    assert judges.judge_night(lost_message).lost == ["m-alpha-pm-1"]
    overdue = a_night(now=datetime(2026, 11, 26, 13, 31, 1, tzinfo=timezone.utc).timestamp())
    verdict = judges.judge_night(overdue)
    assert (verdict.lost, verdict.overdue, verdict.ok) == (["ck-eeee5555 still pending, due 13:30:00"], 1, False)
    not_survived = a_night(faults=[rr.Fault("agent killed", 18.0, "SIGKILL", survived=False),
                                   rr.Fault("cron stopped", 99.0, "cron off", skipped="the machine's daemon")])
    verdict = judges.judge_night(not_survived)
    assert (verdict.lost, verdict.ok) == ([], False)
    assert rr.report_text(not_survived, verdict).splitlines()[-1] == (
        "RESULT: FAIL: 0 lost, 0 doubled, 0 check-ins failed, faults survived 0/1 (1 skipped)")
    assert judges.judge_night(a_night(grown=False)).ok is False


def test_backup_counts_group_skip_reasons() -> None:
    text = (
        '2026-11-26T13:06:00+00:00 backup project=alpha why=timer result=committed commit=abc files=2 reason=committed\n'
        '2026-11-26T13:07:00+00:00 backup project=alpha why=timer result=skipped files=0 '
        'reason="skipped: nothing uncommitted to back up"\n'
        '2026-11-26T13:08:00+00:00 backup project=beta why=timer result=skipped files=0 '
        'reason="skipped: a merge is in progress; try later"\n'
        "2026-11-26T13:08:00+00:00 tests project=beta ok=True exit=0\n"
    )
    assert rr.backup_counts(text) == {"committed": 1, "skipped": 2, "skipped (nothing uncommitted to back up)": 1,
                                      "skipped (a merge is in progress)": 1}


# --- the brains' bookkeeping: what a stand-in request tells ----------------------------------


def _request(*user_texts: str, history: list[dict[str, object]] | None = None) -> dict[str, object]:
    messages = list(history or [{"role": "user", "content": [{"type": "text", "text": "You are the engineer-1 ..."}]},
                                {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}])
    messages.append({"role": "user", "content": [{"type": "text", "text": t} for t in user_texts]})
    return {"tools": [{"name": "Bash"}], "messages": messages}


def _brain(name: str = "alpha-dev1") -> tuple[Brain, Ledger]:
    ledger = Ledger()
    team = Team("alpha", "/suite", "alpha:PM", "alpha-pm", {"alpha-dev1": "alpha:Dev1"}, finish_available=False)
    return Brain(name, "engineer", team, ledger, clock=lambda: 1000.0), ledger


def test_tokens_of_checkins_and_messages() -> None:
    text = "[check-in ck-1a2b3c4d due 13:07:35, every 5m, LATE by 2m01s] note (ref m-alpha-pm-3) x"
    assert tokens_in(text) == ["ck-1a2b3c4d@13:07:35", "m-alpha-pm-3"]


def test_a_retried_request_counts_once_and_a_second_typing_counts_twice() -> None:
    brain, ledger = _brain()
    task = "TASK 1 for alpha-dev1: write it. (ref m-alpha-pm-1)"
    first = brain(_request(task))
    assert isinstance(first, ScriptedToolUse) and "git commit" in str(first.input["command"])
    brain(_request(task))  # the same history again: a retry after an error answer
    assert ledger.received[("alpha-dev1", "m-alpha-pm-1")] == 1
    # The same text typed again later is a new message in the conversation: a double.
    history = _request(task)["messages"] + [{"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]
    brain(_request(task, history=history))  # type: ignore[arg-type]
    assert ledger.received[("alpha-dev1", "m-alpha-pm-1")] == 2


def test_a_restart_briefing_quoting_the_old_screen_is_not_a_delivery() -> None:
    brain, ledger = _brain()
    brain(_request("You were restarted ... the last lines of your previous session's screen:\n"
                   "  TASK 1 for alpha-dev1 (ref m-alpha-pm-1)\n  [check-in ck-11112222 due 13:07:35]"))
    assert not ledger.received


def test_a_task_leads_to_a_commit_and_a_done_report_whose_outcome_is_recorded() -> None:
    brain, ledger = _brain()
    task = _request("TASK 4 for alpha-dev1: write it. (ref m-alpha-pm-9)")
    commit = brain(task)
    assert isinstance(commit, ScriptedToolUse) and "git commit" in str(commit.input["command"])
    conversation = list(task["messages"])  # type: ignore[call-overload]

    def result_of(tool_id: str, output: str) -> dict[str, object]:
        conversation.extend([
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": output}]},
        ])
        return {"tools": [{"name": "Bash"}], "messages": list(conversation)}

    report = brain(result_of("t1", "abc1234"))
    assert isinstance(report, ScriptedToolUse) and "send_message.sh" in str(report.input["command"])
    (token,) = ledger.sent
    assert ledger.sent[token]["to"] == "alpha-pm" and ledger.sent[token]["rc"] is None
    assert f"(ref {token})" in str(report.input["command"])
    end = brain(result_of("t2", f"SENT {token} rc=1"))
    assert ledger.sent[token]["rc"] == 1
    assert isinstance(end, str)


def test_a_usage_limit_answers_429_but_still_counts_what_arrived() -> None:
    brain, ledger = _brain()
    brain.limit_for(60)
    answer = brain(_request("[check-in ck-abcdef12 due 13:07:35] look (ref m-x-1)"))
    assert isinstance(answer, ErrorReply) and answer.status == 429
    assert ("anthropic-ratelimit-unified-reset", "1060") in answer.headers
    assert ledger.received[("alpha-dev1", "ck-abcdef12@13:07:35")] == 1
    assert brain.limited_answers == 1


LIMIT_LOG = """\
2026-11-26T13:20:05+00:00 fired id=ck-aaaa1111 by=schedule lag=0s attempt=1
2026-11-26T13:20:05+00:00 deferred id=ck-aaaa1111 target=beta:PM reason="usage limit" retry=2026-11-26T13:23:30+00:00 limit="You've hit your 5-hour limit · resets 1:22pm (UTC)"
2026-11-26T13:20:05+00:00 nudge-scheduled id=ck-aaaa1111 target=beta:PM nudge=ck-bbbb2222
2026-11-26T13:21:05+00:00 deferred id=ck-cccc3333 target=beta:PM reason="usage limit" retry=2026-11-26T13:23:30+00:00 limit="x"
2026-11-26T13:21:06+00:00 deferred id=ck-dddd4444 target=alpha:Dev2 reason="a dialog is showing" retry=x
2026-11-26T13:23:31+00:00 late id=ck-aaaa1111 by=3m26s due=2026-11-26T13:20:05+00:00
2026-11-26T13:23:31+00:00 delivered id=ck-aaaa1111 target=beta:PM pane=%3 lag=206.0s
2026-11-26T13:23:33+00:00 delivered id=ck-bbbb2222 target=beta:PM pane=%3 lag=3.0s
"""


def test_limit_deferrals_name_the_deferred_check_ins_the_nudge_and_what_came_after_the_reset() -> None:
    limit = rr.limit_deferrals(LIMIT_LOG)
    assert limit.deferred == {"ck-aaaa1111": "2026-11-26T13:23:30+00:00", "ck-cccc3333": "2026-11-26T13:23:30+00:00"}
    assert limit.nudges == ["ck-bbbb2222"]
    # ck-cccc3333 was never delivered: the rehearsal reports it as not survived.
    assert limit.delivered_after == {"ck-aaaa1111": "2026-11-26T13:23:31+00:00",
                                     "ck-bbbb2222": "2026-11-26T13:23:33+00:00"}
    assert rr.limit_deferrals(LIMIT_LOG, targets=["alpha:Dev2", "alpha:2.0"]).deferred == {}  # a dialog is no limit
    assert list(rr.limit_deferrals(LIMIT_LOG, targets=["beta:PM", "beta:0.0"]).deferred) == ["ck-aaaa1111", "ck-cccc3333"]
    later = rr.limit_deferrals(LIMIT_LOG, since=rr.epoch("2026-11-26T13:21:00+00:00"))
    assert list(later.deferred) == ["ck-cccc3333"] and later.nudges == []


def test_epoch_reads_the_logs_times() -> None:
    assert rr.epoch("2026-11-26T13:20:05+00:00") == 1795699205.0
    assert rr.epoch("2026-11-26T14:20:05+01:00") == 1795699205.0
    assert rr.epoch("yesterday") is None


ATTENTION_LOG = """\
2026-11-26T13:21:00+00:00 raised subject=beta/project-manager reason=usage-limit text="beta:PM: the agent hit its usage limit"
2026-11-26T13:21:02+00:00 told subject=beta/project-manager reason=usage-limit orchestrator=submitted notify=ok
2026-11-26T13:22:00+00:00 raised subject=alpha/engineer-2 reason=dialog text="alpha:Dev2: a dialog is waiting for an answer"
2026-11-26T13:22:01+00:00 told subject=alpha/engineer-2 reason=dialog orchestrator="not submitted: a dialog is showing (an Enter would answer it); nothing typed" notify="exit 1 no display"
2026-11-26T13:24:00+00:00 cleared subject=beta/project-manager reason=usage-limit
2026-11-26T13:30:00+00:00 raised subject=beta/project-manager reason=usage-limit text="beta:PM: the agent hit its usage limit"
2026-11-26T13:30:02+00:00 told subject=beta/project-manager reason=usage-limit orchestrator=submitted notify=ok
"""


def test_attention_counts_what_was_raised_told_and_notified() -> None:
    counts = rr.attention_counts(ATTENTION_LOG)
    assert counts.raised == {"usage-limit": 2, "dialog": 1}
    assert counts.cleared == 1
    assert counts.told_orchestrator == 2
    assert counts.not_told == {"a dialog is showing (an Enter would answer it)": 1}
    assert (counts.notify_ok, counts.notify_failed) == (2, {"exit 1 no display": 1})
    # Raised again after it cleared: submitted twice, so it must arrive twice.
    assert counts.submitted_texts == Counter({"beta/project-manager: beta:PM: the agent hit its usage limit": 2})


class Chat:
    """One conversation with a brain, as Claude Code would carry it on: prompts and tool results
    appended to the same history."""

    def __init__(self, brain: Brain, first: str) -> None:
        self.brain = brain
        self.messages: list[dict[str, object]] = list(_request(first)["messages"])  # type: ignore[call-overload]
        self.first = self._ask()

    def _ask(self) -> object:
        return self.brain({"tools": [{"name": "Bash"}], "messages": list(self.messages)})

    def result(self, tool_id: str, output: str) -> object:
        self.messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": output}]},
        ]
        return self._ask()

    def prompt(self, text: str) -> object:
        self.messages += [{"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                          {"role": "user", "content": [{"type": "text", "text": text}]}]
        return self._ask()


def test_the_usage_limit_bites_right_after_the_agent_scheduled_its_next_check_in() -> None:
    now = [1000.0]
    ledger = Ledger()
    team = Team("beta", "/suite", "beta:PM", "beta-pm", {}, finish_available=False)
    brain = Brain("beta-pm", "pm", team, ledger, clock=lambda: now[0])
    brain.limit_after_schedule(120)
    chat = Chat(brain, "[check-in ck-abcdef12 due 13:07:35] look")
    schedule = chat.first
    assert isinstance(schedule, ScriptedToolUse) and "schedule_with_note.sh" in str(schedule.input["command"])
    assert brain.limited_since is None  # not before the agent has its next check-in pending
    answer = chat.result("t1", "SCHEDULED TO RUN AT 13:08:40 id ck-11223344")
    assert isinstance(answer, ErrorReply) and answer.status == 429
    # The reset: 120 s or more ahead, on a minute boundary (Claude Code shows it to the minute).
    assert brain.limited_until == 1140.0 and ("anthropic-ratelimit-unified-reset", "1140") in answer.headers
    assert "ck-11223344" in brain.scheduled
    now[0] = 1141.0
    chat.prompt("[check-in ck-55667788 due 13:30:00] Your usage limit has reset: continue where you left off.")
    assert brain.nudges == 1 and brain.answered_after_limit == 1 and brain.arrived_at["ck-55667788@13:30:00"] == 1141.0


def test_the_suites_nudge_after_a_failed_check_in_is_taken_up_as_that_check_in() -> None:
    from orc.teams.attention_events import nudge_text

    now = [1000.0]
    ledger = Ledger()
    team = Team("alpha", "/suite", "alpha:PM", "alpha-pm", {}, finish_available=False)
    brain = Brain("alpha-dev1", "engineer", team, ledger, clock=lambda: now[0])
    brain.limit_for(60)
    chat = Chat(brain, "[check-in ck-0a0b0c0d due 13:07:35] alpha-dev1: check-in: look at your work")
    assert isinstance(chat.first, ErrorReply) and chat.first.status == 429
    now[0] = 1121.0
    nudge = chat.prompt(nudge_text("Request rejected (429)", "alpha-dev1: check-in: look at your work"))
    assert isinstance(nudge, ScriptedToolUse) and "schedule_with_note.sh" in str(nudge.input["command"])
    assert brain.retry_nudges == 1
    # The nudge quotes the note, not the check-in's header: the check-in arrived once.
    assert dict(ledger.received) == {("alpha-dev1", "ck-0a0b0c0d@13:07:35"): 1}


def test_an_engineer_reports_a_refused_done_again_at_its_next_check_in() -> None:
    brain, ledger = _brain()
    chat = Chat(brain, "TASK 2 for alpha-dev1: write it. (ref m-alpha-pm-2)")
    chat.result("t1", "abc1234")
    (token,) = ledger.sent
    chat.result("t2", f"SENT {token} rc=1")
    assert brain.unsent_reports == ["DONE alpha-dev1: task 2; committed"]
    again = chat.prompt("[check-in ck-99887766 due 13:09:00] look at your work")
    assert isinstance(again, ScriptedToolUse) and "DONE alpha-dev1: task 2" in str(again.input["command"])
    assert brain.unsent_reports == [] and len(ledger.sent) == 2


def test_the_orchestrator_runs_status_and_passes_an_engineers_trouble_to_its_manager() -> None:
    ledger = Ledger()
    team = Team("", "/suite", "", "", {}, finish_available=False, managers={"alpha": "alpha:PM", "beta": "beta:PM"})
    brain = OrchestratorBrain("orchestrator", team, ledger, clock=lambda: 1000.0)
    text = ("[attention] alpha/engineer-2: alpha:Dev2: a dialog is waiting for an answer\n"
            "[attention] beta/project-manager: beta:PM: the agent hit its usage limit")
    chat = Chat(brain, text)
    status = chat.first
    assert isinstance(status, ScriptedToolUse) and "orchestrator_integration.py status" in str(status.input["command"])
    assert brain.attention == Counter({"alpha/engineer-2: alpha:Dev2: a dialog is waiting for an answer": 1,
                                       "beta/project-manager: beta:PM: the agent hit its usage limit": 1})
    message = chat.result("t1", "STATUS rc=0")
    assert brain.status_runs == [0]
    # Hub and spoke: the engineer's manager is told; a manager's own trouble goes to the person only.
    assert isinstance(message, ScriptedToolUse) and "alpha:PM" in str(message.input["command"])
    assert [e["to"] for e in ledger.sent.values()] == ["alpha-pm"]
    assert isinstance(chat.result("t2", "SENT m-orchestrator-1 rc=0"), str)


def test_a_manager_grows_its_team_with_spawn_and_then_counts_the_new_engineer_in() -> None:
    ledger = Ledger()
    team = Team("alpha", "/suite", "alpha:PM", "alpha-pm", {"alpha-dev1": "alpha:Dev1"}, finish_available=False)
    brain = Brain("alpha-pm", "pm", team, ledger, clock=lambda: 1000.0)
    brain.open_task["alpha-dev1"] = "m-busy"   # dev1 busy: the check-in's only step is the spawn
    brain.grow_team("alpha-dev3", "alpha:Dev3", "engineer-3", "cd /w && exec env -i X=1 claude")
    chat = Chat(brain, "[check-in ck-12345678 due 13:00:00] look")
    spawn = chat.first
    assert isinstance(spawn, ScriptedToolUse)
    command = str(spawn.input["command"])
    assert "orchestrator_integration.py spawn alpha:Dev3 --role engineer-3 --project alpha" in command
    assert "'cd /w && exec env -i X=1 claude'" in command    # one argument, quoted
    (token,) = ledger.sent                                      # its first task rides in the briefing
    assert ledger.sent[token]["to"] == "alpha-dev3" and f"(ref {token})" in command
    chat.result("t1", f"alpha: spawned engineer-3\nSPAWN alpha-dev3 rc=0\nSENT {token} rc=0")
    assert brain.spawn_results[0][:2] == ("alpha-dev3", 0) and ledger.sent[token]["rc"] == 0
    assert team.engineers["alpha-dev3"] == "alpha:Dev3" and brain.open_task["alpha-dev3"] == token


# --- the worktree team: commits per branch, merges, and what went where it should not -----------


def _git(repo: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@example.invalid", "PATH": "/usr/bin:/bin",
                               "HOME": str(repo)}).stdout.strip()


def _commit(folder: Path, name: str, subject: str) -> None:
    (folder / name).write_text(subject + "\n")
    _git(folder, "add", name)
    _git(folder, "commit", "-q", "-m", subject)


OWNERS = {"orc/engineer-1": "beta-dev1", "orc/engineer-2": "beta-dev2"}


def _worktree_repo(tmp_path: Path, stray: bool) -> tuple[Path, str]:
    """A real repository as a night leaves it: engineer-1 committed twice in its worktree and was
    merged the way finish merges; engineer-2's worktree has a commit not merged yet, and with
    ``stray`` engineer-1's commit made in engineer-2's worktree. Returns the repo and the merge."""
    repo = tmp_path / "beta"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, "SPEC.md", "Initial commit")
    for role in ("engineer-1", "engineer-2"):
        _git(repo, "worktree", "add", "-q", "-b", f"orc/{role}", str(tmp_path / "beta-worktrees" / role), "main")
    one, two = tmp_path / "beta-worktrees" / "engineer-1", tmp_path / "beta-worktrees" / "engineer-2"
    _commit(one, "t1.txt", "beta-dev1: task 1")
    _commit(one, "t3.txt", "beta-dev1: task 3")
    _commit(two, "t2.txt", "beta-dev2: task 2")
    if stray:
        _commit(two, "t5.txt", "beta-dev1: task 5")
    _git(repo, "merge", "-q", "--no-ff", "-m", "Merge orc/engineer-1 into main (finish engineer-1, tested: yes, "
         "tag stable-engineer-1-x)", "orc/engineer-1")
    return repo, _git(repo, "rev-parse", "HEAD")


def test_commits_per_branch_and_merges_are_read_from_a_real_repository(tmp_path: Path) -> None:
    repo, merge = _worktree_repo(tmp_path, stray=False)
    finishes = [rr.MemberFinish("engineer-1", 2, 0, "beta: merged orc/engineer-1", restart_rc=0)]
    team = judges.worktree_team(repo, "beta", "main", OWNERS, finishes)
    assert [c.subject for c in team.main_line][1:] == ["Initial commit"] and team.main_line[0].sha == merge
    assert [c.subject for c in team.merged[merge]] == ["beta-dev1: task 3", "beta-dev1: task 1"]
    assert [c.subject for c in team.live["orc/engineer-2"]] == ["beta-dev2: task 2"]
    git_log = (f"2026-12-03T16:00:00+00:00 finish project=beta feature=orc/engineer-1 into=main result=merged "
               f"commit={merge[:12]} tag=stable-engineer-1-x\n"
               "2026-12-03T16:00:01+00:00 finish project=alpha feature=feature/conflict-demo into=main result=refused\n")
    counts = rr.worktree_counts(team, git_log)
    assert counts.merged_from == {"orc/engineer-1": 2, "orc/engineer-2": 0}
    # engineer-1's branch is still there (this finish did not take it away): nothing on it main lacks.
    assert counts.on_branch == {"orc/engineer-1": 0, "orc/engineer-2": 1}
    assert counts.merges == {"orc/engineer-1": 1, "orc/engineer-2": 0} and counts.other_merges == 0
    assert (counts.main_line, counts.main_reachable) == (2, 4)
    assert counts.finished == {"merged": 1}                                  # alpha's task branch is not counted
    assert (counts.misplaced, counts.on_main_directly) == ([], [])
    # engineer-2 was never finished: the manager was told to finish each one.
    assert judges.worktree_problems(team, git_log) == ["engineer-2 was never finished with a merge"]
    lines = rr.worktree_lines(team, counts, [])
    assert lines[0] == ("commits per branch (an engineer's by the subject it writes): orc/engineer-1 (beta-dev1): "
                        "2 merged into main, 0 on the branch at the end; orc/engineer-2 (beta-dev2): 0 merged into "
                        "main, 1 on the branch at the end")
    assert lines[2].startswith("merges into main: 1 (orc/engineer-1 1, orc/engineer-2 0)")


def test_a_commit_on_another_engineers_branch_or_made_on_main_fails_the_night(tmp_path: Path) -> None:
    repo, merge = _worktree_repo(tmp_path, stray=True)
    _commit(repo, "t6.txt", "beta-dev2: task 6")      # made in the main checkout, not merged in
    team = judges.worktree_team(repo, "beta", "main", OWNERS, [])
    counts = rr.worktree_counts(team, "")
    (misplaced,) = counts.misplaced
    assert "'beta-dev1: task 5' on orc/engineer-2 (beta-dev2's)" in misplaced
    (direct,) = counts.on_main_directly
    assert "'beta-dev2: task 6' made on main itself" in direct
    problems = judges.worktree_problems(team, "")
    assert problems[:2] == [f"misplaced commit {misplaced}", f"commit {direct}"]
    night = a_night(logs={**a_night().logs, "git.log": ""}, worktree=team)
    verdict = judges.judge_night(night)
    assert verdict.ok is False and verdict.worktree_problems == problems
    report = rr.report_text(night, verdict)
    assert report.splitlines()[-1].endswith(f", worktree team: {len(problems)} problem(s)")
    assert "commits on another engineer's branch or made on main directly: 2: " in report


def _finished_team(finishes: list[rr.MemberFinish], merges: dict[str, str]) -> rr.WorktreeTeam:
    """A worktree team whose main line holds a finish merge of each branch in ``merges`` (branch -> sha)."""
    line = [rr.GitCommit(sha, ("p" + sha, "b" + sha), f"Merge {branch} into main (finish {branch[4:]}, tested: yes)")
            for branch, sha in merges.items()]
    merged = {sha: [rr.GitCommit("c" + sha, ("x",), f"{OWNERS[branch]}: task 1")] for branch, sha in merges.items()}
    return rr.WorktreeTeam("beta", "main", dict(OWNERS), [*line, rr.GitCommit("i0", (), "Initial commit")],
                           merged, {}, 4, finishes)


def test_a_finish_that_should_have_merged_and_did_not_fails_the_night() -> None:
    merged_line = ("2026-12-03T16:00:00+00:00 finish project=beta feature=orc/engineer-1 into=main result=merged "
                   "commit=aaaa1111aaaa\n"
                   "2026-12-03T16:01:00+00:00 finish project=beta feature=orc/engineer-2 into=main result=merged "
                   "commit=bbbb2222bbbb\n")
    both = {"orc/engineer-1": "aaaa1111aaaa0000", "orc/engineer-2": "bbbb2222bbbb0000"}
    ran = [rr.MemberFinish("engineer-1", 1, 0, "merged", 0), rr.MemberFinish("engineer-2", 3, 0, "merged", 0)]
    assert judges.worktree_problems(_finished_team(ran, both), merged_line) == []
    # It exited 1 although its branch was ahead (and git.log has no merge for it).
    refused = [ran[0], rr.MemberFinish("engineer-2", 3, 1, "beta: 1 uncommitted change(s)")]
    assert judges.worktree_problems(_finished_team(refused, {"orc/engineer-1": both["orc/engineer-1"]}),
                                    merged_line.splitlines()[0]) == [
        "finish beta engineer-2: orc/engineer-2 was 3 commit(s) ahead of main, yet exit 1, git.log merged line: "
        "none, merge on main: False",
        "engineer-2 was never finished with a merge"]
    # Exit 0 and a merged line in git.log, but no such merge on the main branch.
    assert judges.worktree_problems(_finished_team(ran, {"orc/engineer-1": both["orc/engineer-1"]}), merged_line)[0] \
        .endswith("yet exit 0, git.log merged line: bbbb2222bbbb, merge on main: False")
    # Nothing ahead: finish rightly refuses; it is no failed merge (but the engineer is not finished).
    idle = [ran[0], rr.MemberFinish("engineer-2", 0, 1, "nothing to merge")]
    assert judges.worktree_problems(_finished_team(idle, {"orc/engineer-1": both["orc/engineer-1"]}), merged_line) \
        == ["engineer-2 was never finished with a merge"]


def test_a_worktree_teams_manager_finishes_each_engineer_at_its_next_done_and_brings_it_back() -> None:
    ledger = Ledger()
    team = Team("beta", "/suite", "beta:PM", "beta-pm", {"beta-dev1": "beta:Dev1", "beta-dev2": "beta:Dev2"},
                finish_available=True, worktree_branches={"beta-dev1": ("engineer-1", "orc/engineer-1"),
                                                          "beta-dev2": ("engineer-2", "orc/engineer-2")})
    brain = Brain("beta-pm", "pm", team, ledger, clock=lambda: 1000.0)
    chat = Chat(brain, "DONE beta-dev1: task 1; committed (ref m-beta-dev1-2)")
    assert isinstance(chat.first, str) and brain.member_finishes == []     # not told yet: no finish
    brain.finish_each_engineer()
    step = chat.prompt("DONE beta-dev1: task 3; committed (ref m-beta-dev1-4)")
    assert isinstance(step, ScriptedToolUse)
    command = str(step.input["command"])
    assert "git rev-list --count main..orc/engineer-1" in command
    assert "orchestrator_integration.py finish beta engineer-1 2>&1" in command
    assert "orchestrator_integration.py restart beta engineer-1 --resume" in command
    assert step.input["timeout"] == 300000
    chat.result("t1", "beta: ...; merged orc/engineer-1 into main as 1a2b3c4d5e6f; ...\nbeta: restarted engineer-1\n"
                      "MEMBER-FINISH engineer-1 ahead=2 rc=0 restart rc=0")
    assert brain.member_finishes == [rr.MemberFinish("engineer-1", 2, 0,
                                                     "beta: ...; merged orc/engineer-1 into main as 1a2b3c4d5e6f; ...\n"
                                                     "beta: restarted engineer-1", 0)]
    # Once each: engineer-1's next DONE is only a DONE; engineer-2 is still to be finished.
    assert isinstance(chat.prompt("DONE beta-dev1: task 5; committed (ref m-beta-dev1-6)"), str)
    assert brain.finish_at_done == {"beta-dev2"}
    chat.prompt("DONE beta-dev2: task 2; committed (ref m-beta-dev2-2)")
    chat.result("t2", "beta: 1 uncommitted change(s)\nMEMBER-FINISH engineer-2 ahead=1 rc=1")
    assert brain.member_finishes[1] == rr.MemberFinish("engineer-2", 1, 1, "beta: 1 uncommitted change(s)", None)
