"""The explorer's login, which ``app.py`` runs before the page ``st.navigation`` chose: until it
passes, the script stops at the form, so no page, query or export runs.

``tousu explore`` says which login in ``$TOUSU_LOGIN`` (see :mod:`tousu.explorer.access`): the
password form, checked against the scrypt hash in ``$TOUSU_PASSWORD_FILE``, or Streamlit's OIDC
login (``st.login``). Unset, there is none: the explorer listens on this machine only.
"""
from __future__ import annotations

import os
import threading
from time import sleep

import streamlit as st

from tousu.explorer.access import LOGIN_VARIABLE, PASSWORD_FILE_VARIABLE
from tousu.explorer.passwords import PasswordFileError, read_password_hash

FAILURE_FLOOR_S = 1.0
MAX_FAILURE_DELAY_S = 30.0
_LOGGED_IN = "login_passed"
_FAILURES = "login_failures"
# Checks take turns, and a failed one keeps its turn for FAILURE_FLOOR_S: the whole server admits at most
# one wrong guess a second, however many sessions a guesser opens (each session counts its own failures).
_checking = threading.Lock()


def failure_delay_s(consecutive_failures: int) -> float:
    """How long the n-th wrong password in a row keeps a session waiting: 1, 2, 4 … s, at most 30."""
    return min(FAILURE_FLOOR_S * 2 ** (consecutive_failures - 1), MAX_FAILURE_DELAY_S)


def logged_in() -> bool:
    """Whether this session may see the pages: no login is asked for, or it has passed."""
    login = os.environ.get(LOGIN_VARIABLE)
    if login == "password":
        return bool(st.session_state.get(_LOGGED_IN))
    if login == "oidc":
        # .get: without an [auth] section st.user has no is_logged_in at all, which must read as logged out.
        return bool(st.user.get("is_logged_in", False))
    return not login


def require_login() -> None:
    """Return once this session has logged in; otherwise show the login and stop the script."""
    login = os.environ.get(LOGIN_VARIABLE)
    if logged_in():
        if login:
            st.sidebar.button("退出登录", key="logout", on_click=_log_out)
        return
    if login == "password":
        _password_form()
    elif login == "oidc":
        st.title("tousu 投诉分析")
        st.button("登录", key="login", on_click=st.login, type="primary")
    else:
        st.error(f"未知的登录方式 {LOGIN_VARIABLE}={login}。")
    st.stop()


def _log_out() -> None:
    if os.environ.get(LOGIN_VARIABLE) == "oidc":
        st.logout()
    else:
        st.session_state[_LOGGED_IN] = False


def _password_form() -> None:
    try:
        expected = read_password_hash(os.environ.get(PASSWORD_FILE_VARIABLE, ""))
    except PasswordFileError as error:
        st.error(f"无法读取密码文件：{error}")
        return
    st.title("tousu 投诉分析")
    with st.form("login", clear_on_submit=True):
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录")
    if not submitted:
        return
    with _checking:
        passed = expected.matches(password)
        if not passed:
            sleep(FAILURE_FLOOR_S)
    if passed:
        st.session_state[_LOGGED_IN], st.session_state[_FAILURES] = True, 0
        st.rerun()
    failures = st.session_state[_FAILURES] = st.session_state.get(_FAILURES, 0) + 1
    sleep(failure_delay_s(failures) - FAILURE_FLOOR_S)  # the floor was waited out above
    st.error("密码不正确。")
