"""The hard messages every agent CLI's tests send: each broke some way of typing text into a pane."""

# The list of messages that the original suite lost or mangled.
MESSAGES = [
    "first line\nsecond line\n\nfourth after a blank",
    "it's \"quoted\" and $(rm -rf ~) and `whoami` and $HOME",
    "100% done, 50%% left",
    "run the tests;",
    "-n check the build",
    "Enter",
    "C-c",
    "continue on the next line \\",
    "Grüße, 你好, ✓ done — ok 🚀",
    "\n".join(f"line {n}: " + "x" * 60 for n in range(80)),  # several KB, shown collapsed
]
# Two more that Claude Code changes on its way in: a tab (recorded as four spaces) and one
# long line (collapsed to "[Pasted text #N]", recorded in a <pasted_content> envelope).
HARD = MESSAGES + ["name\tsize\tdone", "one long line " + "y" * 900 + " end"]
