// The function app on Flex Consumption (Node.js 22) and its app settings: the only place in infra/
// that sets them. test/infra/app-settings.test.ts checks them against src/config/settings.ts.
param name string
param location string
param tags object
param planId string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
param keyVaultName string
param cosmosEndpoint string
param cosmosDatabaseName string
param cosmosContainerName string
param replicationRegions string
param registryName string
param registryResourceGroupName string
param webhookNames array
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 40

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var baseSettings = {
  // The host's storage (timer schedules and leases), through the identity: no connection string.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  // Telemetry of the host and of the app (OpenTelemetry), sent with Entra ID.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential (Cosmos DB, ARM) picks the user-assigned identity by this.
  AZURE_CLIENT_ID: identityClientId
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  COSMOS_CONTAINER: cosmosContainerName
  // db.bicep creates them; the data-plane role could not.
  COSMOS_CREATE_IF_MISSING: 'false'
  REPLICATION_REGIONS: replicationRegions
  WEBHOOK_TOKENS: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=webhook-tokens)'
  ADMIN_TOKENS: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=admin-tokens)'
  READ_TOKENS: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=read-tokens)'
}

// With a registry: replay lost webhook deliveries from ARM every 5 minutes (registry.bicep grants it).
var reconcileSettings = empty(registryName)
  ? {}
  : {
      RECONCILE_SUBSCRIPTION_ID: subscription().subscriptionId
      RECONCILE_RESOURCE_GROUP: registryResourceGroupName
      RECONCILE_REGISTRY: registryName
      RECONCILE_WEBHOOKS: join(webhookNames, ',')
    }

var appSettings = union(baseSettings, reconcileSettings)

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

output name string = site.name
output hostName string = site.properties.defaultHostName
