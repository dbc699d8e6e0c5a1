"""gantrans desktop GUI (import name ``gantrans_gui``); built in a later issue.

Imports PySide6, gantrans.inference and gantrans.runs only — never torch.
"""
