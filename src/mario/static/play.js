// Play the generated level: a canvas, Mario as a box, tile collisions, a camera that follows him.
//
// The level comes from the page (a <script type="application/json" id="mario-level"> holding {rows, path,
// image}): rows are 14 strings, row 0 at the top; path is the agent's [column, row] cells; image is the level's
// PNG (16 px tiles), drawn as the background. Solid tiles are those the agent stands on: ground and hard blocks
// (X), bricks and question blocks (S ? Q), pipes (< > [ ]) and cannons (B b); enemies and coins are passed
// through, as the agent does. Keys: Left/Right (or A/D) run, Up/Space/Z jump, R starts again. A fall below the
// bottom row ends the run; reaching the last column wins it.
//
// Units are tiles and seconds. The jump (take-off speed 22.4 tiles/s against gravity 60 tiles/s^2) rises 4.2
// tiles and, running at 8 tiles/s, carries about 6 columns: the agent's reach is 4 tiles up and a 7-column pit
// on flat ground, so now and then the agent finds a path that takes a precise player. window.marioGame exposes
// the state (x, y, state) and load(rows, path) for tests and for the curious.
"use strict";

(() => {
  const TILE = 16;
  const HEIGHT = 14;
  const SOLID = new Set(["X", "S", "?", "Q", "<", ">", "[", "]", "B", "b"]);
  const GRAVITY = 60;
  const JUMP_SPEED = 22.4;
  const RUN_SPEED = 8;
  const STEP = 1 / 120; // physics step, seconds
  const SIZE = { w: 0.75, h: 0.95 }; // Mario's box, tiles

  const canvas = document.getElementById("mario-play");
  const status = document.getElementById("mario-status");
  const pathBox = document.getElementById("mario-show-path");
  if (!canvas) return;
  const context = canvas.getContext("2d");
  const keys = new Set();
  const game = {
    rows: [], path: [], background: null, x: 1, y: 0, vx: 0, vy: 0, onGround: false, state: "loading",
    camera: 0, showPath: false,
  };

  function solidAt(column, row) {
    if (column < 0) return true; // a wall at the level's start
    if (row < 0 || row >= HEIGHT || column >= game.rows[0].length) return false;
    return SOLID.has(game.rows[row][column]);
  }

  function startColumn() {
    // The first column with ground to stand on; Mario starts on top of it.
    const width = game.rows[0].length;
    for (let column = 0; column < width; column++) {
      for (let row = 0; row < HEIGHT; row++) {
        if (solidAt(column, row)) return { column, row };
      }
    }
    return { column: 0, row: HEIGHT };
  }

  // A level to play: its rows, the agent's path, and its picture (without one, tiles are drawn as boxes).
  function load(rows, path = [], picture = null) {
    game.rows = rows;
    game.path = path;
    game.background = null;
    if (picture) {
      const image = new Image();
      image.onload = () => {
        if (game.rows === rows) game.background = image;
      };
      image.src = picture;
    }
    restart();
  }

  function restart() {
    const start = startColumn();
    game.x = start.column + (1 - SIZE.w) / 2;
    game.y = start.row - SIZE.h;
    game.vx = 0;
    game.vy = 0;
    game.onGround = false;
    game.state = "playing";
    say("Hold Right to run, Up or Space to jump; R starts again.");
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  // Move along one axis, stopping at the first solid tile the box would enter.
  function moveX(dx) {
    game.x += dx;
    const top = Math.floor(game.y + 0.01);
    const bottom = Math.floor(game.y + SIZE.h - 0.01);
    const edge = dx > 0 ? Math.floor(game.x + SIZE.w) : Math.floor(game.x);
    for (let row = top; row <= bottom; row++) {
      if (solidAt(edge, row)) {
        game.x = dx > 0 ? edge - SIZE.w - 0.001 : edge + 1.001;
        game.vx = 0;
        return;
      }
    }
  }

  function moveY(dy) {
    game.y += dy;
    game.onGround = false;
    const left = Math.floor(game.x + 0.01);
    const right = Math.floor(game.x + SIZE.w - 0.01);
    const edge = dy > 0 ? Math.floor(game.y + SIZE.h) : Math.floor(game.y);
    for (let column = left; column <= right; column++) {
      if (solidAt(column, edge)) {
        if (dy > 0) {
          game.y = edge - SIZE.h;
          game.onGround = true;
        } else {
          game.y = edge + 1;
        }
        game.vy = 0;
        return;
      }
    }
  }

  function step() {
    if (game.state !== "playing") return;
    const right = keys.has("ArrowRight") || keys.has("d");
    const left = keys.has("ArrowLeft") || keys.has("a");
    game.vx = right === left ? 0 : right ? RUN_SPEED : -RUN_SPEED;
    const jump = keys.has("ArrowUp") || keys.has(" ") || keys.has("z");
    if (jump && game.onGround) game.vy = -JUMP_SPEED;
    game.vy = Math.min(game.vy + GRAVITY * STEP, 30);
    moveX(game.vx * STEP);
    moveY(game.vy * STEP);
    const width = game.rows[0].length;
    if (game.y > HEIGHT) {
      game.state = "dead";
      say(`Fell into a gap at column ${Math.floor(game.x)}. Press R to try again.`);
    } else if (game.x + SIZE.w >= width - 0.05) {
      game.state = "won";
      say("Through the level! Press R to play again.");
    }
  }

  function draw() {
    const view = canvas.width / TILE;
    const width = game.rows.length ? game.rows[0].length : 0;
    game.camera = Math.max(0, Math.min(game.x - view / 3, width - view));
    const offset = Math.round(game.camera * TILE);
    context.fillStyle = "#5c94fc"; // the sky of the first world
    context.fillRect(0, 0, canvas.width, canvas.height);
    if (game.background) {
      context.drawImage(game.background, -offset, 0);
    } else {
      context.fillStyle = "#c84c0c";
      game.rows.forEach((line, row) => {
        [...line].forEach((tile, column) => {
          if (SOLID.has(tile)) context.fillRect(column * TILE - offset, row * TILE, TILE - 1, TILE - 1);
        });
      });
    }
    if (game.showPath) {
      context.fillStyle = "rgba(255, 255, 255, 0.55)";
      for (const [column, row] of game.path) {
        context.fillRect(column * TILE - offset + 4, row * TILE + 4, TILE - 8, TILE - 8);
      }
    }
    context.fillStyle = game.state === "dead" ? "#777" : "#e52521";
    context.fillRect(Math.round(game.x * TILE) - offset, Math.round(game.y * TILE), SIZE.w * TILE, SIZE.h * TILE);
  }

  let last = null;
  let spare = 0;
  function frame(now) {
    if (last !== null) {
      spare = Math.min(spare + (now - last) / 1000, 0.25); // a hidden tab does not fast-forward
      while (spare >= STEP) {
        step();
        spare -= STEP;
      }
    }
    last = now;
    draw();
    requestAnimationFrame(frame);
  }

  const GAME_KEYS = new Set(["ArrowRight", "ArrowLeft", "ArrowUp", " ", "a", "d", "z"]);
  window.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) return; // typing a prompt is not playing
    if (GAME_KEYS.has(event.key)) {
      keys.add(event.key);
      event.preventDefault();
    } else if (event.key === "r") {
      restart();
    }
  });
  window.addEventListener("keyup", (event) => keys.delete(event.key));
  window.addEventListener("blur", () => keys.clear());
  if (pathBox) {
    pathBox.addEventListener("change", () => {
      game.showPath = pathBox.checked;
    });
  }

  const data = JSON.parse(document.getElementById("mario-level").textContent);
  window.marioGame = {
    get x() { return game.x; },
    get y() { return game.y; },
    get state() { return game.state; },
    get showPath() { return game.showPath; },
    load,
    restart,
  };
  load(data.rows, data.path, data.image);
  requestAnimationFrame(frame);
})();
