"""The live view of ``pushcli listen`` on a terminal (imported only when one is drawn).

layout.py: column widths (pure); state.py: what the view knows and what keys do (pure);
keys.py: reading keys from the terminal; view.py: the rich Live screen (:class:`LiveSink`).
"""
