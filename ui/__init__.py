"""framewire's GUI process (PySide6; never imports trio).

General layout: ``app`` builds everything; ``supervisor`` owns the engine process
(``EngineSupervisor``) and ``engine_client`` its command API (``EngineClient``);
``log_model``/``log_store`` and ``session_model`` hold what the window shows;
``main_window`` and ``widgets/`` lay it out. Qt-free logic lives in plain modules:
``formatting``, ``restart_budget``, ``hang_monitor``, ``tick_probe``, ``event_log``.
"""

__all__: list[str] = []
