/** Where the inspector listens when nothing says otherwise: loopback only, on Sanic's port. */
export const defaultInspectorHost = "127.0.0.1"
export const defaultInspectorPort = 6457
