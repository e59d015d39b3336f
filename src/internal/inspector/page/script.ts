/** The inspector page's script (served as `/page/app.js`): plain JavaScript, no build step, no inline code. */
export const script = String.raw`"use strict"
;(() => {
  const storageKey = "fiberapp-inspector-key"
  const rowHeight = 28
  const overscan = 8
  const byId = (id) => document.getElementById(id)

  const state = {
    process: undefined,
    workers: new Map(),
    tasks: new Map(),
    order: [],
    filtered: [],
    filterDirty: true,
    clockOffset: 0,
    live: false,
    stream: undefined,
    retryMs: 500,
    retryTimer: undefined,
    renderQueued: false,
    // The fleet, when this server is one of its machines: rows keyed by machine and by task name.
    fleet: { on: false, machine: undefined, machines: new Map(), tasks: new Map(), error: null }
  }

  const apiKey = () => sessionStorage.getItem(storageKey)
  const headers = (extra) => {
    const all = Object.assign({}, extra)
    const key = apiKey()
    if (key) all.authorization = "Bearer " + key
    return all
  }
  const serverNow = () => Date.now() + state.clockOffset

  const el = (tag, className, text) => {
    const node = document.createElement(tag)
    if (className) node.className = className
    if (text !== undefined) node.textContent = text
    return node
  }

  const span = (text, title) => {
    const node = el("span", "", text)
    node.setAttribute("role", "cell")
    if (title) node.title = title
    return node
  }

  const duration = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000))
    if (s < 60) return s + "s"
    const m = Math.floor(s / 60)
    if (m < 60) return m + "m " + (s % 60) + "s"
    const h = Math.floor(m / 60)
    if (h < 24) return h + "h " + (m % 60) + "m"
    return Math.floor(h / 24) + "d " + (h % 24) + "h"
  }
  const ago = (at) => (at === undefined || at === null ? "-" : duration(serverNow() - at) + " ago")
  const until = (at) => (at === undefined || at === null ? "-" : "in " + duration(at - serverNow()))
  const when = (at) => (at === undefined || at === null ? "" : new Date(at).toLocaleString())
  const bytes = (n) => (n === undefined ? "-" : (n / 1024 / 1024).toFixed(1) + " MB")

  // Messages

  const show = (id, text) => {
    const node = byId(id)
    node.textContent = text
    node.hidden = false
  }
  const hide = (id) => {
    byId(id).hidden = true
  }
  const showError = (text) => show("error", text)
  const setConnection = (what) => {
    const node = byId("connection")
    node.textContent = what
    node.className = "connection " + (what === "live" ? "live" : what === "connecting" ? "" : "down")
  }

  const messageOf = async (response) => {
    try {
      const body = await response.json()
      if (body && typeof body.error === "string") return body.error
    } catch (_) {}
    return "The inspector answered " + response.status + "."
  }

  const askForKey = (message) => {
    byId("login-message").textContent = message
    byId("login").hidden = false
    byId("key").focus()
  }

  // The stream of changes

  const scheduleRetry = () => {
    setConnection("reconnecting")
    clearTimeout(state.retryTimer)
    state.retryTimer = setTimeout(connect, state.retryMs)
    state.retryMs = Math.min(state.retryMs * 2, 5000)
  }

  const connect = async () => {
    if (state.stream) state.stream.abort()
    clearTimeout(state.retryTimer)
    const stream = new AbortController()
    state.stream = stream
    setConnection("connecting")
    let response
    try {
      response = await fetch("/page/events", {
        headers: headers({ accept: "text/event-stream" }),
        cache: "no-store",
        signal: stream.signal
      })
    } catch (_) {
      if (!stream.signal.aborted) scheduleRetry()
      return
    }
    if (response.status === 401) {
      setConnection("locked")
      if (apiKey()) showError("The inspector refused the API key.")
      askForKey(apiKey() ? "Enter the inspector's API key." : "This inspector needs its API key.")
      return
    }
    if (!response.ok) {
      setConnection("refused")
      showError(await messageOf(response))
      if (response.status >= 500) scheduleRetry()
      return
    }
    hide("login")
    hide("error")
    try {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end = buffer.indexOf("\n\n")
        while (end >= 0) {
          onBlock(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf("\n\n")
        }
      }
    } catch (_) {
      if (stream.signal.aborted) return
    }
    if (!stream.signal.aborted) scheduleRetry()
  }

  const onBlock = (block) => {
    let name = "message"
    const data = []
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "event") name = value
      else if (field === "data") data.push(value)
    }
    if (data.length === 0) return
    const message = JSON.parse(data.join("\n"))
    state.clockOffset = message.now - Date.now()
    if (name === "snapshot") onSnapshot(message)
    else if (name === "changes") onChanges(message)
    else if (name === "fleet") onFleet(message)
    else if (name === "fleet-changes") onFleetChanges(message)
    else if (name === "fleet-status") onFleetStatus(message)
  }

  const onSnapshot = (message) => {
    state.process = message.process
    state.workers = new Map(message.workers.map((worker) => [worker.name, worker]))
    state.tasks = new Map(message.tasks.map((task) => [task.id, task]))
    state.order = message.tasks.map((task) => task.id)
    state.filterDirty = true
    state.live = true
    state.retryMs = 500
    setConnection("live")
    byId("main").hidden = false
    const replicas = byId("replicas")
    if (document.activeElement !== replicas) replicas.value = String(state.workers.size || 1)
    render()
  }

  const onChanges = (message) => {
    for (const name of message.workers.remove) state.workers.delete(name)
    for (const worker of message.workers.upsert) state.workers.set(worker.name, worker)
    let removed = false
    for (const id of message.tasks.remove) removed = state.tasks.delete(id) || removed
    for (const task of message.tasks.upsert) {
      if (!state.tasks.has(task.id)) state.order.push(task.id)
      state.tasks.set(task.id, task)
    }
    if (removed) state.order = state.order.filter((id) => state.tasks.has(id))
    state.filterDirty = true
    scheduleRender()
  }

  const onFleet = (message) => {
    const fleet = state.fleet
    fleet.on = true
    fleet.machine = message.machine
    fleet.machines = new Map(message.machines.map((machine) => [machine.machine, machine]))
    fleet.tasks = new Map(message.tasks.map((task) => [task.name, task]))
    fleet.error = null
    scheduleRender()
  }

  const onFleetChanges = (message) => {
    const fleet = state.fleet
    for (const name of message.machines.remove) fleet.machines.delete(name)
    for (const machine of message.machines.upsert) fleet.machines.set(machine.machine, machine)
    for (const name of message.tasks.remove) fleet.tasks.delete(name)
    for (const task of message.tasks.upsert) fleet.tasks.set(task.name, task)
    scheduleRender()
  }

  const onFleetStatus = (message) => {
    state.fleet.on = true
    state.fleet.machine = message.machine
    state.fleet.error = message.error
    scheduleRender()
  }

  // Rendering

  const scheduleRender = () => {
    if (state.renderQueued) return
    state.renderQueued = true
    requestAnimationFrame(() => {
      state.renderQueued = false
      render()
    })
  }

  const render = () => {
    if (!state.process) return
    renderProcess()
    renderWorkers()
    renderFleet()
    renderTasks()
  }

  const renderProcess = () => {
    const info = state.process
    byId("app-name").textContent = info.app
    document.title = info.app + " · fiberapp inspector"
    const list = byId("process")
    const items = [
      ["app", info.app],
      ["mode", info.mode],
      ["pid", String(info.pid)],
      ["node", info.node],
      ["platform", info.platform],
      ["up", duration(serverNow() - info.startedAt)],
      ["rss", bytes(info.memory)]
    ]
    list.replaceChildren(
      ...items.map(([term, value]) => {
        const item = el("div")
        item.append(el("dt", "", term), el("dd", "", value))
        return item
      })
    )
    for (const id of ["restart-all", "scale", "replicas"]) byId(id).hidden = info.mode === "single"
    byId("replicas").previousElementSibling.hidden = info.mode === "single"
  }

  const renderWorkers = () => {
    const body = byId("workers").tBodies[0]
    const rows = []
    for (const worker of state.workers.values()) {
      const row = el("tr")
      row.dataset.worker = worker.name
      row.dataset.state = worker.state
      row.dataset.pid = worker.pid === undefined ? "" : String(worker.pid)
      const exit = worker.lastExit
      const cells = [
        worker.name,
        worker.state,
        worker.pid === undefined ? "-" : String(worker.pid),
        worker.startedAt === undefined ? "-" : duration(serverNow() - worker.startedAt),
        String(worker.starts),
        String(worker.restarts),
        worker.serving ? "yes" : "no",
        exit === undefined ? "-" : exit.signal !== null ? exit.signal : "code " + exit.code
      ]
      cells.forEach((text, index) => {
        const cell = el("td", index === 1 ? "state-" + worker.state : "", text)
        if (index === 2) cell.className = "pid"
        row.append(cell)
      })
      const actions = el("td")
      if (state.process.mode !== "single") {
        const button = el("button", "restart", "Restart")
        button.type = "button"
        button.dataset.worker = worker.name
        actions.append(button)
      }
      row.append(actions)
      rows.push(row)
    }
    body.replaceChildren(...rows)
    byId("worker-count").textContent = String(state.workers.size)
  }

  const button = (className, text, data) => {
    const node = el("button", className, text)
    node.type = "button"
    Object.assign(node.dataset, data)
    return node
  }

  const renderFleet = () => {
    const fleet = state.fleet
    byId("fleet").hidden = !fleet.on
    if (!fleet.on) return
    const status = byId("fleet-status")
    status.hidden = fleet.error === null
    status.textContent = fleet.error === null ? "" : fleet.error + " The rows below are as last seen."
    const machines = []
    for (const machine of fleet.machines.values()) {
      const row = el("tr")
      row.dataset.machine = machine.machine
      row.dataset.state = machine.state
      row.dataset.self = String(machine.self)
      const name = el("td", "", machine.machine)
      if (machine.self) name.append(el("span", "self", "this machine"))
      const url = el("td")
      if (/^https?:\/\//.test(machine.url)) {
        const link = el("a", "", machine.url)
        link.href = machine.url
        link.rel = "noreferrer noopener"
        url.append(link)
      } else url.textContent = machine.url
      const actions = el("td")
      if (!machine.self && machine.state === "up") {
        actions.append(button("restart-machine", "Restart workers", { machine: machine.machine }))
      }
      row.append(
        name,
        el("td", "state-" + machine.state, machine.state),
        url,
        el("td", "", ago(machine.lastSeen)),
        el("td", "", String(machine.workers)),
        actions
      )
      machines.push(row)
    }
    if (machines.length === 0) {
      const empty = el("td", "empty", "No machine yet.")
      empty.colSpan = 6
      const row = el("tr")
      row.append(empty)
      machines.push(row)
    }
    byId("machines").tBodies[0].replaceChildren(...machines)
    byId("machine-count").textContent = String(fleet.machines.size)
    const tasks = []
    for (const task of fleet.tasks.values()) {
      const row = el("tr")
      row.dataset.name = task.name
      row.dataset.status = task.status
      row.dataset.machine = task.machine === undefined ? "" : task.machine
      const actions = el("td")
      if (task.status === "running" && task.machine !== undefined && task.worker !== undefined) {
        actions.append(button("cancel-fleet-task", "Cancel", { name: task.name }))
      }
      row.append(
        el("td", "", task.name),
        el("td", "status status-" + task.status, task.status),
        el("td", "", task.machine === undefined ? "-" : task.machine),
        el("td", "", task.worker === undefined ? "-" : task.worker),
        el("td", "", String(task.runs)),
        el("td", "", String(task.failures)),
        actions
      )
      tasks.push(row)
    }
    if (tasks.length === 0) {
      const empty = el("td", "empty", "No one-in-fleet task.")
      empty.colSpan = 7
      const row = el("tr")
      row.append(empty)
      tasks.push(row)
    }
    byId("fleet-tasks").tBodies[0].replaceChildren(...tasks)
    byId("fleet-task-count").textContent = String(fleet.tasks.size)
  }

  const nameMatcher = (text) => {
    const wanted = text.trim()
    if (wanted === "") return () => true
    if (!wanted.includes("*")) {
      const lower = wanted.toLowerCase()
      return (name) => name.toLowerCase().includes(lower)
    }
    const pattern = wanted
      .split("*")
      .map((part) => part.replace(/[.+?^$()|[\]{}\\]/g, "\\$&"))
      .join(".*")
    const regex = new RegExp("^" + pattern + "$")
    return (name) => regex.test(name)
  }

  const filterTasks = () => {
    if (!state.filterDirty) return
    state.filterDirty = false
    const matches = nameMatcher(byId("filter-name").value)
    const status = byId("filter-status").value
    const result = []
    for (const id of state.order) {
      const task = state.tasks.get(id)
      if (task === undefined) continue
      if (status !== "" && task.status !== status) continue
      if (!matches(task.name === undefined ? "" : task.name)) continue
      result.push(task)
    }
    state.filtered = result
  }

  const taskRow = (task) => {
    const row = el("div", "row")
    row.setAttribute("role", "row")
    row.dataset.worker = task.worker
    row.dataset.name = task.name === undefined ? "" : task.name
    row.dataset.status = task.status
    const status = span(task.status)
    status.className = "status status-" + task.status
    const runs = task.runs === undefined ? "-" : String(task.runs)
    const next = task.nextRunAt === undefined ? "-" : until(task.nextRunAt)
    row.append(
      span(task.worker),
      span(task.name === undefined ? "(unnamed)" : task.name, task.name),
      status,
      span(ago(task.addedAt), when(task.addedAt)),
      span(ago(task.startedAt), when(task.startedAt)),
      span(ago(task.endedAt), when(task.endedAt)),
      span(runs),
      span(next, when(task.nextRunAt)),
      span(String(task.failures === undefined ? "-" : task.failures)),
      span(task.placement)
    )
    const actions = span("")
    if (task.name !== undefined && (task.status === "running" || task.status === "pending")) {
      const button = el("button", "cancel", "Cancel")
      button.type = "button"
      button.dataset.id = task.id
      actions.append(button)
    }
    row.append(actions)
    return row
  }

  const renderTasks = () => {
    filterTasks()
    const viewport = byId("tasks")
    const total = state.filtered.length
    byId("tasks-spacer").style.height = total * rowHeight + "px"
    const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - overscan)
    const visible = Math.ceil((viewport.clientHeight || 480) / rowHeight)
    const last = Math.min(total, first + visible + 2 * overscan)
    const rows = byId("tasks-rows")
    rows.style.transform = "translateY(" + first * rowHeight + "px)"
    const children = []
    for (let index = first; index < last; index++) children.push(taskRow(state.filtered[index]))
    if (total === 0) children.push(el("div", "empty", state.tasks.size === 0 ? "No tasks." : "No task matches."))
    rows.replaceChildren(...children)
    const shown = total === state.tasks.size ? String(total) : total + " of " + state.tasks.size
    byId("task-count").textContent = shown
  }

  // Actions: each asks first, then POSTs with the key

  const act = async (button, question, path, body, done) => {
    if (!window.confirm(question)) return
    hide("error")
    show("notice", done.pending)
    if (button) button.disabled = true
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: headers({ "content-type": "application/json", accept: "application/json" }),
        body: JSON.stringify(body),
        cache: "no-store"
      })
      if (response.status === 401) {
        hide("notice")
        showError("The inspector refused the API key: nothing was done.")
        askForKey("Enter the inspector's API key.")
        return
      }
      if (!response.ok) {
        hide("notice")
        showError(await messageOf(response))
        return
      }
      show("notice", done.ok)
    } catch (error) {
      hide("notice")
      showError("The inspector did not answer: " + error.message)
    } finally {
      if (button) button.disabled = false
    }
  }

  const cancelTask = (button, task) =>
    act(
      button,
      "Cancel task \"" + task.name + "\" in " + task.worker + "?",
      "/tasks/" + encodeURIComponent(task.worker) + "/" + encodeURIComponent(task.name) + "/cancel",
      {},
      { pending: "Cancelling " + task.name + "…", ok: "Cancelled task \"" + task.name + "\" in " + task.worker + "." }
    )

  const restart = (button, worker) =>
    act(
      button,
      worker === undefined
        ? "Restart every worker? Each new process serves before the old one stops."
        : "Restart " + worker + "? The new process serves before the old one stops.",
      "/restart",
      worker === undefined ? { zeroDowntime: true } : { workers: [worker], zeroDowntime: true },
      {
        pending: "Restarting " + (worker === undefined ? "every worker" : worker) + "…",
        ok: "Restarted " + (worker === undefined ? "every worker" : worker) + "."
      }
    )

  const scale = (button) => {
    const replicas = Number(byId("replicas").value)
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 256) {
      showError("The number of workers is a whole number from 1 to 256.")
      return
    }
    return act(
      button,
      "Run " + replicas + " worker" + (replicas === 1 ? "" : "s") + "?",
      "/scale",
      { replicas },
      { pending: "Scaling to " + replicas + "…", ok: "Scaled to " + replicas + "." }
    )
  }

  const fleetPath = (machine, rest) => "/fleet/" + encodeURIComponent(machine) + rest

  const restartMachine = (button, machine) =>
    act(
      button,
      "Restart every worker of " + machine + "? Each new process serves before the old one stops.",
      fleetPath(machine, "/restart"),
      { zeroDowntime: true },
      { pending: "Restarting the workers of " + machine + "…", ok: "Restarted the workers of " + machine + "." }
    )

  // Through the machine running it, as the fleet's table says.
  const cancelFleetTask = (button, task) =>
    act(
      button,
      "Cancel one-in-fleet task \"" + task.name + "\" on " + task.machine + " (" + task.worker + ")?",
      fleetPath(
        task.machine,
        "/tasks/" + encodeURIComponent(task.worker) + "/" + encodeURIComponent(task.name) + "/cancel"
      ),
      {},
      {
        pending: "Cancelling " + task.name + " on " + task.machine + "…",
        ok: "Cancelled one-in-fleet task \"" + task.name + "\" on " + task.machine + "."
      }
    )

  // Wiring

  byId("login").addEventListener("submit", (event) => {
    event.preventDefault()
    const key = byId("key").value.trim()
    if (key === "") return
    sessionStorage.setItem(storageKey, key)
    byId("key").value = ""
    hide("error")
    connect()
  })
  byId("tasks").addEventListener("scroll", scheduleRender, { passive: true })
  window.addEventListener("resize", scheduleRender)
  for (const id of ["filter-name", "filter-status"]) {
    byId(id).addEventListener("input", () => {
      state.filterDirty = true
      byId("tasks").scrollTop = 0
      scheduleRender()
    })
  }
  byId("tasks-rows").addEventListener("click", (event) => {
    const button = event.target.closest("button.cancel")
    if (!button) return
    const task = state.tasks.get(button.dataset.id)
    if (task) cancelTask(button, task)
  })
  byId("workers").addEventListener("click", (event) => {
    const button = event.target.closest("button.restart")
    if (button) restart(button, button.dataset.worker)
  })
  byId("machines").addEventListener("click", (event) => {
    const button = event.target.closest("button.restart-machine")
    if (button) restartMachine(button, button.dataset.machine)
  })
  byId("fleet-tasks").addEventListener("click", (event) => {
    const button = event.target.closest("button.cancel-fleet-task")
    if (!button) return
    const task = state.fleet.tasks.get(button.dataset.name)
    if (task && task.machine !== undefined && task.worker !== undefined) cancelFleetTask(button, task)
  })
  byId("restart-all").addEventListener("click", (event) => restart(event.currentTarget, undefined))
  byId("scale").addEventListener("click", (event) => scale(event.currentTarget))
  setInterval(() => {
    if (state.live && !document.hidden) scheduleRender()
  }, 1000)
  connect()
})()
`
