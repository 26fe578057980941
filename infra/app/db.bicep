// Serverless Cosmos DB for NoSQL with local (key) auth off. The database and container are made
// here: the app's data-plane role cannot create them, and the app is told not to try.
param location string
param tags object
param accountName string
param databaseName string
param containerName string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          '/pk'
        ]
        kind: 'Hash'
        version: 2
      }
      // Items live for ever unless they carry a `ttl` (only the no-deletion checks do); the app's
      // CONTAINER_DEFAULT_TTL (src/store/cosmos-store.ts), which a test keeps equal.
      defaultTtl: -1
      // The app's INDEXING_POLICY (src/store/cosmos-store.ts); a test keeps the two equal.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          { path: '/type/?' }
          { path: '/registry/?' }
          { path: '/repository/?' }
          { path: '/status/?' }
          { path: '/digests/[]/?' }
          { path: '/childDigests/[]/?' }
          { path: '/untaggedDigest/?' }
          { path: '/image/retryAt/?' }
          { path: '/stalls/[]/?' }
          { path: '/digest/?' }
          { path: '/round/?' }
          { path: '/pushedAt/?' }
          { path: '/updatedAt/?' }
          { path: '/outboxSize/?' }
          { path: '/sortKey/?' }
          { path: '/event/source/?' }
          { path: '/state/?' }
          { path: '/nextAttemptAt/?' }
          { path: '/createdAt/?' }
        ]
        excludedPaths: [
          { path: '/*' }
          { path: '/"_etag"/?' }
        ]
      }
    }
  }
}

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
output containerName string = container.name
