import KnotServiceKit

/// The Files service's public API as an OpenAPI 3.1 document (served at
/// `GET /api/v1/files/openapi.json`). `OpenAPIRouteTests` fails when a
/// route is registered under `/api/v1/files` without being listed here,
/// or listed here without being registered; the end-to-end fuzz test
/// (`Tests/EndToEnd/test_openapi_fuzz.py`) checks answers against the schemas.
/// The servers, sign-in schemes and error shape every area shares are added
/// by `OpenAPIDocument`.
enum FilesOpenAPI {
    static let document = OpenAPIDocument(json: #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Knot files",
    "version": "1",
    "description": "Each person's private folder, the shared folder and the administrators' folder: listings, downloads, uploads (whole or resumable), moves, copies, share links and quotas."
  },
  "paths": {
    "/api/v1/files/usage": {
      "get": {
        "summary": "How much of your private folder's quota you use",
        "tags": [
          "files"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "bytes": {
                      "type": "integer"
                    },
                    "files": {
                      "type": "integer"
                    },
                    "quota_bytes": {
                      "type": [
                        "integer",
                        "null"
                      ]
                    },
                    "quota_files": {
                      "type": [
                        "integer",
                        "null"
                      ]
                    }
                  },
                  "required": [
                    "bytes",
                    "files"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/folders": {
      "post": {
        "summary": "Make a folder (and any missing parents)",
        "tags": [
          "files"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "domain": {
                    "type": "string",
                    "enum": [
                      "private",
                      "shared",
                      "admin"
                    ]
                  },
                  "path": {
                    "type": "string"
                  }
                },
                "required": [
                  "domain",
                  "path"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "domain": {
                      "type": "string",
                      "enum": [
                        "private",
                        "shared",
                        "admin"
                      ]
                    },
                    "path": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "domain",
                    "path"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/move": {
      "post": {
        "summary": "Move or rename a file or folder",
        "tags": [
          "files"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "from": {
                    "$ref": "#/components/schemas/Place"
                  },
                  "to": {
                    "$ref": "#/components/schemas/Place"
                  },
                  "overwrite": {
                    "type": "boolean"
                  }
                },
                "required": [
                  "from",
                  "to"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Moved",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "domain": {
                      "type": "string",
                      "enum": [
                        "private",
                        "shared",
                        "admin"
                      ]
                    },
                    "path": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "domain",
                    "path"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/copy": {
      "post": {
        "summary": "Copy a file or folder",
        "tags": [
          "files"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "from": {
                    "$ref": "#/components/schemas/Place"
                  },
                  "to": {
                    "$ref": "#/components/schemas/Place"
                  },
                  "overwrite": {
                    "type": "boolean"
                  }
                },
                "required": [
                  "from",
                  "to"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Copied",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "domain": {
                      "type": "string",
                      "enum": [
                        "private",
                        "shared",
                        "admin"
                      ]
                    },
                    "path": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "domain",
                    "path"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/shares": {
      "get": {
        "summary": "Your live share links",
        "tags": [
          "shares"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "shares": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Share"
                      }
                    }
                  },
                  "required": [
                    "shares"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "summary": "Share a file or folder by a secret link (read-only, no login)",
        "tags": [
          "shares"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "domain": {
                    "type": "string",
                    "enum": [
                      "private",
                      "shared",
                      "admin"
                    ]
                  },
                  "path": {
                    "type": "string"
                  },
                  "expires_in_hours": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 2160
                  }
                },
                "required": [
                  "domain",
                  "path"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Share"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/shares/{id}": {
      "delete": {
        "summary": "Revoke a share link",
        "tags": [
          "shares"
        ],
        "parameters": [
          {
            "$ref": "#/components/parameters/IdPath"
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "status": {
                      "type": "string",
                      "enum": [
                        "revoked"
                      ]
                    }
                  },
                  "required": [
                    "status"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/uploads": {
      "post": {
        "summary": "Open a resumable upload (tus-style: then PATCH the bytes)",
        "tags": [
          "uploads"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "domain": {
                    "type": "string",
                    "enum": [
                      "private",
                      "shared",
                      "admin"
                    ]
                  },
                  "path": {
                    "type": "string"
                  },
                  "length": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "overwrite": {
                    "type": "boolean"
                  }
                },
                "required": [
                  "domain",
                  "path",
                  "length"
                ]
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Opened",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/UploadSession"
                }
              }
            },
            "headers": {
              "Location": {
                "schema": {
                  "type": "string"
                }
              },
              "Upload-Offset": {
                "schema": {
                  "type": "integer"
                },
                "description": "The bytes the server has"
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/uploads/{id}": {
      "parameters": [
        {
          "$ref": "#/components/parameters/IdPath"
        }
      ],
      "head": {
        "summary": "How far a resumable upload has come",
        "tags": [
          "uploads"
        ],
        "responses": {
          "200": {
            "description": "The offset in Upload-Offset",
            "headers": {
              "Upload-Offset": {
                "schema": {
                  "type": "integer"
                },
                "description": "The bytes the server has"
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "get": {
        "summary": "How far a resumable upload has come (as HEAD)",
        "tags": [
          "uploads"
        ],
        "responses": {
          "200": {
            "description": "The offset in Upload-Offset",
            "headers": {
              "Upload-Offset": {
                "schema": {
                  "type": "integer"
                },
                "description": "The bytes the server has"
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "patch": {
        "summary": "Append bytes at the current offset; the file appears when the last byte arrives",
        "tags": [
          "uploads"
        ],
        "parameters": [
          {
            "name": "Upload-Offset",
            "in": "header",
            "required": true,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/offset+octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "204": {
            "description": "Appended",
            "headers": {
              "Upload-Offset": {
                "schema": {
                  "type": "integer"
                },
                "description": "The bytes the server has"
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "delete": {
        "summary": "Abandon a resumable upload",
        "tags": [
          "uploads"
        ],
        "responses": {
          "204": {
            "description": "Abandoned"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/{domain}": {
      "x-knot-route": "/api/v1/files/**",
      "parameters": [
        {
          "$ref": "#/components/parameters/DomainPath"
        }
      ],
      "get": {
        "summary": "A domain's top folder: its listing, an archive, or its entry",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "$ref": "#/components/parameters/Stat"
          },
          {
            "$ref": "#/components/parameters/Archive"
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "$ref": "#/components/parameters/After"
          }
        ],
        "responses": {
          "200": {
            "description": "A folder's listing (or with ?stat its entry); a file's content (or with ?stat its entry)",
            "content": {
              "application/json": {
                "schema": {
                  "oneOf": [
                    {
                      "$ref": "#/components/schemas/Listing"
                    },
                    {
                      "$ref": "#/components/schemas/Stat"
                    }
                  ]
                }
              },
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              },
              "application/zip": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              },
              "application/x-tar": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "head": {
        "summary": "A domain's top folder, headers only",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "$ref": "#/components/parameters/Stat"
          },
          {
            "$ref": "#/components/parameters/Archive"
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "$ref": "#/components/parameters/After"
          }
        ],
        "responses": {
          "200": {
            "description": "OK"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/{domain}/{path}": {
      "x-knot-route": "/api/v1/files/**",
      "parameters": [
        {
          "$ref": "#/components/parameters/DomainPath"
        },
        {
          "name": "path",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The path inside the domain, its segments percent-encoded"
        }
      ],
      "get": {
        "summary": "A folder's listing or archive, a file's content (ranges, validators), or either's entry",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "$ref": "#/components/parameters/Stat"
          },
          {
            "$ref": "#/components/parameters/Archive"
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "$ref": "#/components/parameters/After"
          },
          {
            "$ref": "#/components/parameters/RangeHeader"
          },
          {
            "$ref": "#/components/parameters/IfNoneMatchHeader"
          },
          {
            "$ref": "#/components/parameters/IfRangeHeader"
          }
        ],
        "responses": {
          "200": {
            "description": "A folder's listing or archive; a file's content with its own media type (a .json file is JSON); with ?stat, the entry",
            "content": {
              "application/json": {
                "schema": {
                  "description": "A Listing or a Stat, or a JSON file's own content"
                }
              },
              "*/*": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "206": {
            "description": "The requested range of a file (Content-Range)",
            "content": {
              "*/*": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "304": {
            "description": "Not modified (If-None-Match matched the ETag)"
          },
          "416": {
            "description": "The range lies outside the file (Content-Range: bytes */size)"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "head": {
        "summary": "As GET, headers only",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "$ref": "#/components/parameters/Stat"
          },
          {
            "$ref": "#/components/parameters/Archive"
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "$ref": "#/components/parameters/After"
          },
          {
            "$ref": "#/components/parameters/RangeHeader"
          },
          {
            "$ref": "#/components/parameters/IfNoneMatchHeader"
          },
          {
            "$ref": "#/components/parameters/IfRangeHeader"
          }
        ],
        "responses": {
          "200": {
            "description": "OK"
          },
          "206": {
            "description": "A range"
          },
          "304": {
            "description": "Not modified"
          },
          "416": {
            "description": "Range not satisfiable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "put": {
        "summary": "Upload a file (streamed; it appears whole when complete); missing folders are made",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "name": "overwrite",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "true",
                "false"
              ]
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Entry"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "delete": {
        "summary": "Delete a file, or a folder (non-empty ones with ?recursive=true)",
        "tags": [
          "files"
        ],
        "parameters": [
          {
            "name": "recursive",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "true",
                "false"
              ]
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "status": {
                      "type": "string",
                      "enum": [
                        "deleted"
                      ]
                    }
                  },
                  "required": [
                    "status"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/theme": {
      "get": {
        "summary": "The dashboard's theme from the admin domain's theme/ folder, validated (admins also get warnings); see docs/theme.md",
        "tags": [
          "theme"
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "title": {
                      "type": "string"
                    },
                    "colours": {
                      "type": "object",
                      "additionalProperties": {
                        "type": "string",
                        "pattern": "^#[0-9a-f]{6}$"
                      }
                    },
                    "menu": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "properties": {
                          "title": {
                            "type": "string"
                          },
                          "url": {
                            "type": "string"
                          }
                        },
                        "required": [
                          "title",
                          "url"
                        ]
                      }
                    },
                    "logo": {
                      "type": [
                        "string",
                        "null"
                      ]
                    },
                    "source": {
                      "type": "string",
                      "enum": [
                        "default",
                        "admin"
                      ]
                    },
                    "warnings": {
                      "type": [
                        "array",
                        "null"
                      ],
                      "items": {
                        "type": "string"
                      }
                    }
                  },
                  "required": [
                    "title",
                    "colours",
                    "menu",
                    "source"
                  ]
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/theme/logo": {
      "get": {
        "summary": "The theme's logo (SVG, PNG or WebP), with an ETag and a sandboxing CSP",
        "tags": [
          "theme"
        ],
        "responses": {
          "200": {
            "description": "The logo's bytes",
            "content": {
              "image/svg+xml": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              },
              "image/png": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              },
              "image/webp": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "304": {
            "description": "Not modified (If-None-Match)"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/api/v1/files/openapi.json": {
      "get": {
        "summary": "This document",
        "tags": [
          "meta"
        ],
        "operationId": "files_openapi",
        "responses": {
          "200": {
            "description": "The OpenAPI document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Place": {
        "type": "object",
        "properties": {
          "domain": {
            "type": "string",
            "enum": [
              "private",
              "shared",
              "admin"
            ]
          },
          "path": {
            "type": "string"
          }
        },
        "required": [
          "domain",
          "path"
        ]
      },
      "Entry": {
        "type": "object",
        "properties": {
          "name": {
            "type": "string"
          },
          "kind": {
            "type": "string",
            "enum": [
              "file",
              "folder",
              "link",
              "other"
            ]
          },
          "size": {
            "type": "integer"
          },
          "modified": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "name",
          "kind",
          "size",
          "modified"
        ]
      },
      "Listing": {
        "type": "object",
        "properties": {
          "domain": {
            "type": "string"
          },
          "path": {
            "type": "string"
          },
          "entries": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Entry"
            }
          },
          "total": {
            "type": "integer"
          },
          "next": {
            "type": "string",
            "description": "Give as ?after= for the next page; absent on the last one"
          }
        },
        "required": [
          "domain",
          "path",
          "entries",
          "total"
        ]
      },
      "Stat": {
        "type": "object",
        "properties": {
          "name": {
            "type": "string"
          },
          "kind": {
            "type": "string",
            "enum": [
              "file",
              "folder"
            ]
          },
          "size": {
            "type": "integer"
          },
          "modified": {
            "type": "string",
            "format": "date-time"
          },
          "etag": {
            "type": [
              "string",
              "null"
            ]
          }
        },
        "required": [
          "name",
          "kind",
          "size",
          "modified"
        ]
      },
      "Share": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "domain": {
            "type": "string"
          },
          "path": {
            "type": "string"
          },
          "kind": {
            "type": "string",
            "enum": [
              "file",
              "folder"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          },
          "url": {
            "type": "string",
            "description": "The share link: only in the answer that makes it"
          }
        },
        "required": [
          "id",
          "domain",
          "path",
          "kind",
          "created_at",
          "expires_at"
        ]
      },
      "UploadSession": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "offset": {
            "type": "integer"
          },
          "length": {
            "type": "integer"
          },
          "location": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "offset",
          "length",
          "location"
        ]
      }
    },
    "parameters": {
      "IdPath": {
        "name": "id",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "format": "uuid"
        }
      },
      "DomainPath": {
        "name": "domain",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "enum": [
            "private",
            "shared",
            "admin"
          ]
        },
        "description": "private (your own folder), shared (everyone's), admin (administrators)"
      },
      "Stat": {
        "name": "stat",
        "in": "query",
        "required": false,
        "schema": {
          "type": "string"
        },
        "description": "Present: answer with the entry, not the content"
      },
      "Archive": {
        "name": "archive",
        "in": "query",
        "required": false,
        "schema": {
          "type": "string",
          "enum": [
            "zip",
            "tar"
          ]
        },
        "description": "A folder as one streamed archive"
      },
      "Limit": {
        "name": "limit",
        "in": "query",
        "required": false,
        "schema": {
          "type": "integer",
          "minimum": 1,
          "maximum": 10000
        },
        "description": "A folder listing's page size"
      },
      "After": {
        "name": "after",
        "in": "query",
        "required": false,
        "schema": {
          "type": "string"
        },
        "description": "The name the previous page ended with"
      },
      "RangeHeader": {
        "name": "Range",
        "in": "header",
        "required": false,
        "schema": {
          "type": "string"
        },
        "description": "bytes=first-last, one range"
      },
      "IfNoneMatchHeader": {
        "name": "If-None-Match",
        "in": "header",
        "required": false,
        "schema": {
          "type": "string"
        }
      },
      "IfRangeHeader": {
        "name": "If-Range",
        "in": "header",
        "required": false,
        "schema": {
          "type": "string"
        }
      }
    }
  }
}
"""#)
}
