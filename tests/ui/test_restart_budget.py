import pytest

from ui.hang_monitor import HangMonitor
from ui.restart_budget import RestartBudget


def test_budget_allows_five_then_waits_for_the_window():
    budget = RestartBudget(max_restarts=5, window_seconds=60)
    assert all(budget.try_spend(t) for t in (0, 1, 2, 3, 4))
    assert not budget.try_spend(5)
    assert budget.remaining(5) == 0
    assert budget.seconds_until_available(5) == pytest.approx(55)
    assert budget.try_spend(60)  # the restart at t=0 expired
    assert not budget.try_spend(60.5)


def test_budget_reset_by_the_user():
    budget = RestartBudget(max_restarts=1, window_seconds=10)
    assert budget.try_spend(0)
    assert not budget.try_spend(1)
    budget.reset()
    assert budget.try_spend(1)


def test_budget_rejects_nonsense():
    with pytest.raises(ValueError, match="max_restarts"):
        RestartBudget(max_restarts=0)


def test_hang_monitor_alarms_after_threshold_of_silence():
    mon = HangMonitor(threshold=2.0)
    mon.pinged(10.0)
    assert not mon.is_hung(11.9)
    assert mon.is_hung(12.0)
    assert mon.silent_for(13.0) == pytest.approx(3.0)
    mon.answered(13.0)
    assert mon.last_rtt == pytest.approx(3.0)
    assert not mon.ping_outstanding
    assert not mon.is_hung(20.0)


def test_any_sign_of_life_counts():
    mon = HangMonitor(threshold=2.0)
    mon.pinged(0.0)
    mon.alive(1.5)  # a flood of events while the pong waits behind them
    assert not mon.is_hung(3.0)
    assert mon.is_hung(3.5)


def test_reset_forgets_the_old_engine():
    mon = HangMonitor(threshold=2.0)
    mon.pinged(0.0)
    mon.answered(0.1)
    mon.pinged(1.0)
    mon.reset()
    assert not mon.ping_outstanding and mon.last_rtt is None
