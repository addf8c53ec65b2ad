# The legacy signal service's Python client example (websocket-client), unchanged but for three things a test needs: the URL and the
# token come from the command line, and it closes once the answer to "test" arrives (the original runs
# forever; closing from the message callback, because this websocket-client version does not wake up from a
# close() made on another thread).
# The second variant of that example (send "test" 2 s after on_open) is folded in, as the legacy guide describes it.
import websocket
import json
import threading
import time
import sys

def on_message(ws, message):
    data = json.loads(message)
    print(f"signal: {data}", flush=True)
    if data['type'] == 'buy':
        print(f"buy signal: {data['content']['symbol']}, price: {data['content']['price']}", flush=True)
    elif data['type'] == 'sell':
        print(f"sell signal: {data['content']['symbol']}, price: {data['content']['price']}", flush=True)
    if data.get('is_test'):
        ws.close()

def on_error(ws, error):
    print(f"WebSocket error: {error}", flush=True)

def on_close(ws, close_status_code, close_msg):
    print("connection closed", flush=True)

def on_open(ws):
    print("WebSocket connection established", flush=True)
    def send_test():
        time.sleep(2)
        ws.send("test")
    threading.Thread(target=send_test, daemon=True).start()

# create a WebSocket connection with the auth header
def create_authenticated_ws(url, token):
    return websocket.WebSocketApp(
        url,
        header=[f"Authorization: Bearer {token}"],
        on_message=on_message,
        on_error=on_error,
        on_close=on_close,
        on_open=on_open
    )

if __name__ == "__main__":
    token = sys.argv[2]
    ws_url = sys.argv[1]
    ws = create_authenticated_ws(ws_url, token)
    ws.run_forever()
