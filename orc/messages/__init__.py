"""Typing text into an agent's pane and proving it was submitted (delivery.py), and the
send_message.sh command. Built on orc.core and orc.record."""
